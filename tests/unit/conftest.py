# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pytest fixtures for the unit tests."""

from __future__ import annotations

import pytest

from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder
from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import SigningKey, ec_key, rsa_key


@pytest.fixture(scope='session')
def ko_builder(tmp_path_factory: pytest.TempPathFactory) -> KoBuilder:
    """Builds real ELF module files with gcc.

    The cache directory has a fixed name so tests that ansible-test runs in forked
    processes still share compiled objects.
    """
    return KoBuilder(tmp_path_factory.getbasetemp() / 'ko-cache')


@pytest.fixture(scope='session')
def signing_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SigningKey]:
    """Real signing pairs made by openssl: ``dkms`` (RSA, as dkms makes its MOK) and ``second`` (ECDSA P-256)."""
    directory = tmp_path_factory.mktemp('keys')
    return {'dkms': rsa_key(directory), 'second': ec_key(directory)}
