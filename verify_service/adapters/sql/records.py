"""A check's record and its audit event in one durable statement (PostgreSQL).

The usual path is a transaction: BEGIN, lock the chain head, move it, insert the event, insert the record,
COMMIT (six round trips). Here it is one autocommit statement whose CTEs move the head only if it is still
where it was read and insert the event and the record from that same move. The head (and the next event id)
comes with the check's customer read (heads.py); if another writer moved the head meanwhile nothing is
written, the head is read again and the write repeated. The statement is its own transaction, so when it
returns the record is as durable as a COMMIT.

Ids still rise along every chain: the id is taken in the read that saw the predecessor already committed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from verify_service.adapters.sql import heads
from verify_service.adapters.sql.audit import EVENT_FIELDS
from verify_service.adapters.sql.database import DriverStatement, SqlDatabase
from verify_service.adapters.sql.repositories import verification_row
from verify_service.adapters.sql.tables import audit_events, audit_heads, verifications
from verify_service.domain.audit import CHAIN_FORMAT, chain_input, chain_of
from verify_service.domain.model import AuditEvent, Verification
from verify_service.domain.ports import ChainSigner

# Contention on one customer's chain is rare (one caller, one agent); past this many lost races the caller
# falls back to the locking transaction, which queues instead of retrying.
MAX_TRIES = 5

_READ_HEAD = "SELECT seq, hash, nextval('audit_events_id_seq') FROM audit_heads WHERE chain = %s"


def _typed(prefix: str, table: sa.Table) -> list[Any]:
    """One typed parameter per column (rendered with a cast: INSERT ... SELECT leaves nothing to infer from)."""
    return [sa.bindparam(f"{prefix}{column.name}", type_=column.type) for column in table.c]


def _build_write() -> sa.Insert:
    """Move the head if unchanged, then insert event and record selected from that move (0 or 1 rows)."""
    moved = (audit_heads.update()
             .where(audit_heads.c.chain == sa.bindparam("h_chain"), audit_heads.c.seq == sa.bindparam("h_prev"))
             .values(seq=sa.bindparam("h_seq"), hash=sa.bindparam("h_hash"))
             .returning(audit_heads.c.chain).cte("moved"))
    event = audit_events.insert().from_select(
        [column.name for column in audit_events.c], sa.select(*_typed("e_", audit_events)).select_from(moved),
    ).cte("event")
    return verifications.insert().from_select(
        [column.name for column in verifications.c], sa.select(*_typed("v_", verifications)).select_from(moved),
    ).add_cte(moved, event).returning(verifications.c.id)


_WRITE = _build_write()


class PostgresCheckRecorder:
    """Stores a check's record and its chained audit event with one durable statement."""

    def __init__(self, db: SqlDatabase, signer: ChainSigner):
        self._db, self._signer = db, signer
        self._write = DriverStatement(_WRITE, db.engine.dialect)  # compiled once, by the engine's own dialect

    def record(self, verification: Verification, event: AuditEvent) -> bool:
        """True once stored; False if the chain kept moving (or has no head yet): use a transaction then."""
        chain = chain_of(event)
        record = {f"v_{name}": value for name, value in verification_row(verification).items()}
        with self._db.driver() as conn:  # SQLAlchemy's execution would cost more than the round trip
            head = heads.take(chain)
            for _ in range(MAX_TRIES):
                if head is None:
                    read = conn.execute(_READ_HEAD, (chain,)).fetchone()
                    if read is None:
                        return False
                    head = heads.Head(chain, read[0], read[1], int(read[2]))
                prev_seq, prev_hash, event_id = head.seq, head.hash, head.next_id
                key_id = self._signer.newest_key_id()
                digest = self._signer.sign(key_id, chain_input(prev_hash, chain, prev_seq + 1, event, event_id))
                assert digest is not None
                values = {"h_chain": chain, "h_prev": prev_seq, "h_seq": prev_seq + 1, "h_hash": digest,
                          "e_id": event_id, "e_chain": chain, "e_seq": prev_seq + 1, "e_prev_hash": prev_hash,
                          "e_hash": digest, "e_key_id": key_id, "e_chain_format": CHAIN_FORMAT,
                          **{f"e_{name}": getattr(event, name) for name in EVENT_FIELDS}, **record}
                if conn.execute(self._write.sql, self._write.params(values)).fetchone() is not None:
                    return True
                head = None
        return False
