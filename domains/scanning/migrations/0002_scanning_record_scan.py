"""`scanning_record_scan`: a scan's writes, made only if the ticket and its entry state are still
the versions the scan was decided on (domains/scanning/services/rows.py `record_if_unchanged`).

PostgreSQL only (other databases take the locked path in domains/scanning/services/commit.py).
The function decides nothing about entry rules: it locks the ticket row as every writer of a
ticket's entry state does, compares row versions (`xmin`), and writes the rows it was given.
Its parameters are the model's columns by name (`s_` the entry state, `l_` the scan log row);
tests/scanning/test_checked_scan.py fails when a model gains a column the function lacks: then
replace the function in a new migration.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION scanning_record_scan(
    p_ticket bigint, p_ticket_version text, p_state_version text, p_state_write text,
    s_first_admitted_at timestamptz, s_first_gate_id bigint, s_day date, s_day_first_admitted_at timestamptz,
    s_day_first_gate_id bigint, s_inside boolean, s_admissions integer, s_days_admitted jsonb,
    s_last_scan_at timestamptz, s_updated_at timestamptz,
    l_public_id uuid, l_festival_id bigint, l_ticket_type_id bigint, l_gate_id bigint, l_device_id bigint,
    l_staff_user_id bigint, l_verdict varchar, l_reason varchar, l_direction varchar, l_method varchar,
    l_nonce varchar, l_scanned_at timestamptz, l_received_at timestamptz, l_offline boolean, l_conflict boolean,
    l_first_used_at timestamptz, l_first_used_gate_id bigint, l_undone boolean, l_note varchar
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    seen text;
BEGIN
    -- The ticket's row lock, as every writer of its entry state takes it; the lock returns the
    -- latest committed version of the row.
    SELECT t.xmin::text INTO seen FROM tickets_ticket t WHERE t.id = p_ticket FOR UPDATE;
    IF seen IS DISTINCT FROM p_ticket_version THEN
        RETURN false;
    END IF;
    -- A new statement, so a new snapshot (READ COMMITTED): it sees what the lock's previous
    -- holder committed.
    SELECT s.xmin::text INTO seen FROM scanning_ticketentrystate s WHERE s.ticket_id = p_ticket;
    IF seen IS DISTINCT FROM p_state_version THEN
        RETURN false;
    END IF;
    IF p_state_write = 'insert' THEN
        INSERT INTO scanning_ticketentrystate (
            ticket_id, first_admitted_at, first_gate_id, day, day_first_admitted_at, day_first_gate_id,
            inside, admissions, days_admitted, last_scan_at, updated_at
        ) VALUES (
            p_ticket, s_first_admitted_at, s_first_gate_id, s_day, s_day_first_admitted_at, s_day_first_gate_id,
            s_inside, s_admissions, s_days_admitted, s_last_scan_at, s_updated_at
        );
    ELSIF p_state_write = 'update' THEN
        UPDATE scanning_ticketentrystate SET
            first_admitted_at = s_first_admitted_at, first_gate_id = s_first_gate_id, day = s_day,
            day_first_admitted_at = s_day_first_admitted_at, day_first_gate_id = s_day_first_gate_id,
            inside = s_inside, admissions = s_admissions, days_admitted = s_days_admitted,
            last_scan_at = s_last_scan_at, updated_at = s_updated_at
        WHERE ticket_id = p_ticket;
    ELSIF p_state_write <> '' THEN
        RAISE EXCEPTION 'scanning_record_scan: unknown state write %', p_state_write;
    END IF;
    INSERT INTO scanning_scanlog (
        public_id, festival_id, ticket_id, ticket_type_id, gate_id, device_id, staff_user_id, verdict, reason,
        direction, method, nonce, scanned_at, received_at, offline, conflict, first_used_at, first_used_gate_id,
        undone, note
    ) VALUES (
        l_public_id, l_festival_id, p_ticket, l_ticket_type_id, l_gate_id, l_device_id, l_staff_user_id, l_verdict,
        l_reason, l_direction, l_method, l_nonce, l_scanned_at, l_received_at, l_offline, l_conflict,
        l_first_used_at, l_first_used_gate_id, l_undone, l_note
    );
    RETURN true;
END
$fn$;
"""

DROP = "DROP FUNCTION IF EXISTS scanning_record_scan"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)  # no placeholders: the body has a literal %


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("scanning", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
