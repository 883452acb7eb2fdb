"""VERIFY_DATABASE_URL: the forms that work are accepted, the libpq multi-host form is a clear error (issue 17.11)."""

import pytest

from verify_service.config import MULTI_HOST_FORM, load_settings
from verify_service.errors import ConfigError


@pytest.mark.parametrize("url", [
    MULTI_HOST_FORM,
    "postgresql+psycopg://verify@/verify?host=db1:5432&host=db2:5433&target_session_attrs=read-write",
    "postgresql://verify:secret@db:5432/verify",
    "postgres://verify@db/verify",
    "sqlite:////var/lib/verify/verify.sqlite3",
])
def test_database_urls_that_work_are_accepted(url):
    assert load_settings({"VERIFY_DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize("url", [
    "postgresql://verify@db1:5432,db2:5433/verify",
    "postgresql://verify:p%2Cw@db1,db2/verify",
    "postgresql+psycopg://verify@db1:5432,db2:5432/verify?target_session_attrs=read-write",
])
def test_the_libpq_multi_host_form_is_refused_naming_the_form_that_works(url):
    with pytest.raises(ConfigError) as error:
        load_settings({"VERIFY_DATABASE_URL": url})
    assert "libpq multi-host form" in str(error.value) and MULTI_HOST_FORM in str(error.value)


def test_a_refused_database_url_is_never_quoted_back():
    with pytest.raises(ConfigError) as error:
        load_settings({"VERIFY_DATABASE_URL": "oracle://ops:hunter2@db/verify"})
    assert "hunter2" not in str(error.value) and "VERIFY_DATABASE_URL" in str(error.value)
