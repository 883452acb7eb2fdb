""".env.example lists every setting the service reads, each with a comment, and works once filled in
(issue 17.11); the README's configuration table lists them too."""

import re
import secrets
from pathlib import Path

from verify_service.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")


def read_by_config():
    return sorted(set(re.findall(r"VERIFY_[A-Z0-9_]+", (ROOT / "verify_service" / "config.py").read_text())))


def example_lines():
    return (ROOT / ".env.example").read_text().splitlines()


def listed_in_example():
    return {match.group(1) for line in example_lines() if (match := VARIABLE.match(line))}


def test_every_setting_config_reads_is_in_env_example():
    assert set(read_by_config()) - listed_in_example() == set()


def test_every_setting_config_reads_is_in_the_readme_configuration_table():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration"):]
    section = section[:section.index("\n## ", 1)]
    table = " ".join(line for line in section.splitlines() if line.startswith("|"))
    assert [name for name in read_by_config() if f"`{name}`" not in table] == []


def test_every_variable_in_env_example_has_a_comment_above_it():
    uncommented, described = [], False
    for line in example_lines():
        if not line.strip():
            described = False
        elif VARIABLE.match(line):
            if not described:
                uncommented.append(line)
        elif line.startswith("#") and not line.startswith("# ---"):
            described = True
    assert uncommented == []


def test_env_example_filled_in_starts_in_production(tmp_path):
    filled = {}
    for line in example_lines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            filled[match.group(1)] = match.group(2)
    blanks = {name for name, value in filled.items() if not value}
    assert {"VERIFY_SECRET_KEY", "VERIFY_PIN_KEYS", "VERIFY_AUDIT_KEYS"} <= blanks
    filled.update(VERIFY_SECRET_KEY=secrets.token_urlsafe(32), VERIFY_PIN_KEYS=f"2026a:{secrets.token_urlsafe(32)}",
                  VERIFY_AUDIT_KEYS=f"2026a:{secrets.token_urlsafe(32)}",
                  VERIFY_DATABASE_URL="postgresql://verify:pw@db:5432/verify", VERIFY_REDIS_URL="redis://redis:6379/0",
                  VERIFY_SMS_WEBHOOK_URL="https://sms.example/send",
                  VERIFY_SMS_WEBHOOK_SECRET=secrets.token_urlsafe(32),
                  VERIFY_AUDIT_ANCHOR_FILE=str(tmp_path / "anchors.jsonl"))
    settings = load_settings(filled)
    assert settings.env == "production" and settings.audit_anchoring
