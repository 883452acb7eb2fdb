"""The PostgreSQL multi-host URL form the README documents works end to end (issue 17.11)."""

from sqlalchemy.engine import make_url

from tests.blackbox.conftest import free_port


def test_the_documented_multi_host_url_skips_a_dead_host_and_serves(make_harness, databases):
    url = make_url(databases["postgres_redis"]["database_url"])
    dead = free_port()  # nothing listens there: the first host is down
    failover = (f"postgresql+psycopg://{url.username}@/{url.database}?host=127.0.0.1:{dead}"
                f"&host={url.host}:{url.port or 5432}&target_session_attrs=read-write")
    harness = make_harness("postgres_redis", database_url=failover)
    pin = harness.register("A1")
    assert harness.check("A1", pin).get_json()["result"] == "verified"
    assert harness.client.get("/readyz").status_code == 200
