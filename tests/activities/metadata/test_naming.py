import pytest

from activities.errors import InvalidInputError
from activities.metadata import tenant_schema_name, validate_tenant_id
from activities.metadata._naming import translate_map


def test_tenant_schema_name_maps_dash_to_underscore():
    assert tenant_schema_name("acme-eu_1") == "tenant_acme_eu_1"


@pytest.mark.parametrize("bad", ["", "-acme", "Acme", "ac me", "a" * 64, "acme.eu", "tenant;drop"])
def test_validate_tenant_id_rejects_bad_ids(bad):
    with pytest.raises(InvalidInputError, match="tenant id"):
        validate_tenant_id(bad)


def test_long_tenant_ids_get_distinct_schema_names_within_postgres_limit():
    a, b = "a" * 62 + "x", "a" * 62 + "y"
    assert tenant_schema_name(a) != tenant_schema_name(b)
    assert len(tenant_schema_name(a)) <= 63
    assert tenant_schema_name(a) == tenant_schema_name(a)


def test_translate_map_on_sqlite_maps_everything_to_no_schema():
    assert translate_map("sqlite", "acme") == {"global": None, "tenant": None}
    assert translate_map("postgresql", "acme") == {"global": "vsc_global", "tenant": "tenant_acme"}
    assert translate_map("postgresql", None) == {"global": "vsc_global"}
