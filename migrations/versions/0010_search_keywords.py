"""Registry search also matches an app's tags and its developer's name.

A generated column may only read its own row, so the words from other tables (the tag names
in app_tags/tags, the developer's username and full name in users) are copied into
quantum_apps.search_keywords, and triggers keep that copy current on every path that changes
them (the services, the demo seed, an admin's SQL): adding or removing a tag, renaming a tag,
renaming a user, creating an app or moving it to another developer. search_vector is
generated again with the keywords at weight B (between the name and the README), so the one
GIN index serves them. Neither column is mapped: the database maintains both.

Revision ID: 0010_search_keywords
Revises: 0009_primitive_jobs
Create Date: 2026-12-02
"""

from alembic import op

revision = "0010_search_keywords"
down_revision = "0009_primitive_jobs"
branch_labels = None
depends_on = None

# Copied, not imported: a migration must not change with the models.
OLD_VECTOR_SQL = (
    "((setweight(to_tsvector('english'::regconfig, COALESCE(name, ''::character varying)::text), "
    "'A'::\"char\") || "
    "setweight(to_tsvector('english'::regconfig, COALESCE(description, ''::text)), "
    "'B'::\"char\")) || "
    "setweight(to_tsvector('english'::regconfig, COALESCE(readme_content, ''::text)), "
    "'C'::\"char\"))"
)
VECTOR_SQL = (
    f"({OLD_VECTOR_SQL} || "
    "setweight(to_tsvector('english'::regconfig, COALESCE(search_keywords, ''::text)), "
    "'B'::\"char\"))"
)

FUNCTIONS = """
CREATE FUNCTION quantum_app_keywords(app_id uuid, developer uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT concat_ws(' ',
        (SELECT string_agg(t.name, ' ' ORDER BY t.name)
           FROM app_tags at JOIN tags t ON t.id = at.tag_id WHERE at.quantum_app_id = app_id),
        (SELECT concat_ws(' ', u.username, u.full_name) FROM users u WHERE u.id = developer))
$$;

CREATE FUNCTION quantum_apps_set_keywords() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_keywords := quantum_app_keywords(NEW.id, NEW.developer_id);
    RETURN NEW;
END $$;

CREATE FUNCTION app_tags_refresh_keywords() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE app uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.quantum_app_id
                         ELSE NEW.quantum_app_id END;
BEGIN
    UPDATE quantum_apps SET search_keywords = quantum_app_keywords(id, developer_id)
     WHERE id = app;
    RETURN NULL;
END $$;

CREATE FUNCTION tags_refresh_keywords() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE quantum_apps SET search_keywords = quantum_app_keywords(id, developer_id)
     WHERE id IN (SELECT quantum_app_id FROM app_tags WHERE tag_id = NEW.id);
    RETURN NULL;
END $$;

CREATE FUNCTION users_refresh_keywords() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE quantum_apps SET search_keywords = quantum_app_keywords(id, developer_id)
     WHERE developer_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER quantum_apps_keywords BEFORE INSERT OR UPDATE OF developer_id ON quantum_apps
    FOR EACH ROW EXECUTE FUNCTION quantum_apps_set_keywords();
CREATE TRIGGER app_tags_keywords AFTER INSERT OR DELETE ON app_tags
    FOR EACH ROW EXECUTE FUNCTION app_tags_refresh_keywords();
CREATE TRIGGER tags_keywords AFTER UPDATE OF name ON tags
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION tags_refresh_keywords();
CREATE TRIGGER users_keywords AFTER UPDATE OF username, full_name ON users
    FOR EACH ROW WHEN (OLD.username IS DISTINCT FROM NEW.username
                       OR OLD.full_name IS DISTINCT FROM NEW.full_name)
    EXECUTE FUNCTION users_refresh_keywords();
"""

DROP_FUNCTIONS = """
DROP TRIGGER IF EXISTS users_keywords ON users;
DROP TRIGGER IF EXISTS tags_keywords ON tags;
DROP TRIGGER IF EXISTS app_tags_keywords ON app_tags;
DROP TRIGGER IF EXISTS quantum_apps_keywords ON quantum_apps;
DROP FUNCTION IF EXISTS users_refresh_keywords();
DROP FUNCTION IF EXISTS tags_refresh_keywords();
DROP FUNCTION IF EXISTS app_tags_refresh_keywords();
DROP FUNCTION IF EXISTS quantum_apps_set_keywords();
DROP FUNCTION IF EXISTS quantum_app_keywords(uuid, uuid);
"""


def _vector(expression: str) -> None:
    op.execute("DROP INDEX IF EXISTS ix_quantum_apps_search")
    op.execute("ALTER TABLE quantum_apps DROP COLUMN search_vector")
    op.execute(
        "ALTER TABLE quantum_apps ADD COLUMN search_vector tsvector "
        f"GENERATED ALWAYS AS ({expression}) STORED"
    )
    op.execute("CREATE INDEX ix_quantum_apps_search ON quantum_apps USING gin (search_vector)")


def upgrade():
    op.execute("ALTER TABLE quantum_apps ADD COLUMN search_keywords text")
    op.execute(FUNCTIONS)
    op.execute("UPDATE quantum_apps SET search_keywords = quantum_app_keywords(id, developer_id)")
    _vector(VECTOR_SQL)


def downgrade():
    op.execute(DROP_FUNCTIONS)
    _vector(OLD_VECTOR_SQL)
    op.execute("ALTER TABLE quantum_apps DROP COLUMN search_keywords")
