"""Quantum apps and their versions: who may see and change them, the version lifecycle
(DRAFT → PUBLISHED → DEPRECATED / YANKED, exactly one latest), documentation pages, and
publishing to the Registry.

Services take plain values and ``db.session``, flush and never commit: the request (or the
CLI, or a worker) commits. Visibility: a PRIVATE app exists only for its developer and
admins (everyone else gets 404); PUBLIC and UNLISTED apps can be read by anyone signed in,
but only the developer or an admin changes them (403).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.apps import events, metrics, policy, semver
from portal.apps.models import (
    AppLike,
    AppMetrics,
    AppType,
    AppVersion,
    AppVisibility,
    Documentation,
    LicenseType,
    QuantumApp,
    SDKType,
    Tag,
    VersionStatus,
)
from portal.apps.packages import PackageInfo, build_package, validate_package
from portal.core import inputs
from portal.core.db import utcnow
from portal.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from portal.core.extensions import db
from portal.core.paging import Page, paginate

MAX_TAGS = 10
EDITABLE_FIELDS = {
    "name", "description", "type", "visibility", "license_type", "license_url",
    "readme_content", "documentation_url", "repository_url", "api_url",
}  # fmt: skip
# The version lifecycle: which status may follow which.
TRANSITIONS = {
    VersionStatus.DRAFT: {VersionStatus.PUBLISHED},
    VersionStatus.PUBLISHED: {VersionStatus.DEPRECATED, VersionStatus.YANKED},
    VersionStatus.DEPRECATED: {VersionStatus.PUBLISHED, VersionStatus.YANKED},
    VersionStatus.YANKED: {VersionStatus.PUBLISHED},
}
DOWNLOADABLE = {VersionStatus.PUBLISHED, VersionStatus.DEPRECATED}


# -- visibility and ownership ---------------------------------------------------------------


# The rules live in portal/apps/policy.py; these names stay for the callers.
can_manage = policy.can_manage
can_view = policy.can_view


def _uuid(value: Any, what: str = "app") -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"No {what} with id {value!r}.")


def get_app(app_id: Any, viewer: User | None) -> QuantumApp:
    """The app if ``viewer`` may see it; NotFound otherwise (private apps of others)."""
    app = db.session.get(QuantumApp, _uuid(app_id))
    if app is None or not can_view(app, viewer):
        raise NotFound("No such app, or it is private.")
    return app


def get_app_for_change(app_id: Any, user: User) -> QuantumApp:
    """The app if ``user`` may change it: 404 when they cannot see it, 403 when they can see
    it but are neither its developer nor an admin."""
    app = get_app(app_id, user)
    if not can_manage(app, user):
        raise Forbidden("Only the app's developer or an admin can change this app.")
    return app


def list_apps(
    viewer: User | None,
    *,
    mine: bool = False,
    type: str | None = None,
    sdk: str | None = None,
    tag: str | None = None,
    visibility: str | None = None,
    developer: str | None = None,
    search: str | None = None,
    sort: str = "newest",
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """Apps ``viewer`` may see (public and unlisted ones, plus their own; admins all).
    An anonymous ``viewer`` (None) sees public apps only."""
    statement = sa.select(QuantumApp).options(*list_options())
    if viewer is None:
        if mine:
            raise Unauthorized("Sign in (a bearer token or an API key) to list your own apps.")
        statement = statement.where(QuantumApp.visibility == AppVisibility.PUBLIC)
    elif mine:
        statement = statement.where(QuantumApp.developer_id == viewer.id)
    elif not viewer.is_admin:
        statement = statement.where(
            sa.or_(
                QuantumApp.visibility != AppVisibility.PRIVATE,
                QuantumApp.developer_id == viewer.id,
            )
        )
    if visibility:
        statement = statement.where(QuantumApp.visibility == _enum(AppVisibility, visibility))
    if developer:
        statement = statement.join(User, User.id == QuantumApp.developer_id).where(
            sa.or_(User.username == developer, sa.cast(User.id, sa.String) == developer)
        )
    statement = _apply_filters(statement, type=type, sdk=sdk, tag=tag)
    if search:
        statement = search_filter(statement, search)
    return paginate(_apply_sort(statement, sort, search), page, per_page)


def list_options():
    """Eager loads for list pages: tags, metrics, latest version and developer in a fixed
    number of queries however many apps are on the page (no N+1)."""
    return (
        selectinload(QuantumApp.tags),
        selectinload(QuantumApp.metrics),
        selectinload(QuantumApp.latest_version),
        selectinload(QuantumApp.developer),
    )


def _enum(enum_cls, value: str):
    try:
        return enum_cls[str(value).upper()]
    except KeyError:
        allowed = ", ".join(m.name for m in enum_cls)
        raise ValidationFailed(
            f"'{value}' is not a valid {enum_cls.__name__}; use one of {allowed}.",
            details={enum_cls.__name__: f"one of {allowed}"},
        )


def _apply_filters(statement, *, type=None, sdk=None, tag=None, license=None,
                   min_qubits=None, max_qubits=None):  # fmt: skip
    if type:
        statement = statement.where(QuantumApp.type == _enum(AppType, type))
    if license:
        statement = statement.where(QuantumApp.license_type == _enum(LicenseType, license))
    if tag:
        statement = statement.where(QuantumApp.tags.any(Tag.name == tag.strip().lower()))
    if sdk or min_qubits is not None or max_qubits is not None:
        latest = sa.orm.aliased(AppVersion)
        statement = statement.join(latest, latest.id == QuantumApp.latest_version_id)
        if sdk:
            statement = statement.where(latest.sdk_used == _enum(SDKType, sdk))
        if min_qubits is not None:
            statement = statement.where(latest.number_of_qubits >= int(min_qubits))
        if max_qubits is not None:
            statement = statement.where(latest.number_of_qubits <= int(max_qubits))
    return statement


def _search_vector():
    # The stored, indexed document (PostgreSQL's generated column; see SEARCH_VECTOR_SQL),
    # qualified with the table so it also works when other tables are joined.
    return sa.literal_column("quantum_apps.search_vector")


def _prefix_query(text: str) -> str | None:
    """'bell pa' -> 'bell:* & pa:*' so search-as-you-type matches words being typed. An
    excluded word stays excluded ('-marked' -> '!marked'): this query is OR-ed with the
    websearch one, so without that it would bring back the apps the user excluded."""
    terms = []
    for word in text.split():
        clean = "".join(ch for ch in word if ch.isalnum())
        if clean:
            terms.append(f"!{clean}" if word.startswith("-") else f"{clean}:*")
    if not any(not term.startswith("!") for term in terms):
        return None  # nothing to match, only exclusions
    return " & ".join(terms)


def search_filter(statement, text: str):
    """Full-text search (websearch syntax: quoted phrases, -exclusions, OR; plus prefix
    matching for the word being typed) over the stored, indexed document."""
    text = text.strip()[:200]
    if not text:
        return statement
    vector = _search_vector()
    matches = vector.op("@@")(sa.func.websearch_to_tsquery("english", text))
    prefix = _prefix_query(text)
    if prefix:
        matches = sa.or_(matches, vector.op("@@")(sa.func.to_tsquery("english", prefix)))
    return statement.where(matches)


def _apply_sort(statement, sort: str, search: str | None = None):
    sort = (sort or "newest").lower()
    if sort in ("downloads", "rating"):
        column = AppMetrics.downloads if sort == "downloads" else AppMetrics.average_rating
        statement = statement.outerjoin(
            AppMetrics, AppMetrics.quantum_app_id == QuantumApp.id
        ).order_by(sa.func.coalesce(column, 0).desc(), QuantumApp.name)
    elif sort == "name":
        statement = statement.order_by(sa.func.lower(QuantumApp.name), QuantumApp.id)
    elif sort == "relevance" and search:
        rank = sa.func.ts_rank(_search_vector(), sa.func.websearch_to_tsquery("english", search))
        statement = statement.order_by(rank.desc(), QuantumApp.name)
    elif sort in ("newest", "relevance"):
        statement = statement.order_by(
            sa.func.coalesce(QuantumApp.registry_published_at, QuantumApp.created_at).desc(),
            QuantumApp.id,
        )
    else:
        raise ValidationFailed(
            f"Unknown sort '{sort}'; use downloads, newest, rating or name.",
            details={"sort": "one of downloads, newest, rating, name"},
        )
    return statement


# -- apps -----------------------------------------------------------------------------------


def _clean_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed(
            "An app needs a name of 1 to 100 characters.", details={"name": "1-100 characters"}
        )
    return name


def _check_unique_name(developer_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None):
    statement = sa.select(QuantumApp.id).where(
        QuantumApp.developer_id == developer_id, sa.func.lower(QuantumApp.name) == name.lower()
    )
    if exclude is not None:
        statement = statement.where(QuantumApp.id != exclude)
    if db.session.execute(statement).first():
        raise Conflict(
            f"You already have an app called '{name}'; choose another name.",
            details={"name": "already used by another of your apps"},
        )


def set_tags(app: QuantumApp, names: list[str] | str | None) -> None:
    """Replace the app's tags (lower-case, created on first use)."""
    if isinstance(names, str):
        names = names.split(",")
    cleaned: list[str] = []
    for raw in names or []:
        name = raw.strip().lower()
        if name and name not in cleaned:
            if len(name) > 50:
                raise ValidationFailed(
                    f"Tag '{name[:20]}…' is too long (50 characters at most).",
                    details={"tags": "each at most 50 characters"},
                )
            cleaned.append(name)
    if len(cleaned) > MAX_TAGS:
        raise ValidationFailed(
            f"An app can have at most {MAX_TAGS} tags.", details={"tags": f"≤ {MAX_TAGS}"}
        )
    existing = {
        t.name: t for t in db.session.execute(sa.select(Tag).where(Tag.name.in_(cleaned))).scalars()
    }
    tags = []
    for name in cleaned:
        tag = existing.get(name)
        if tag is None:
            tag = Tag(name=name, category="topic")
            db.session.add(tag)
        tags.append(tag)
    app.tags = sorted(tags, key=lambda t: t.name)  # as the relationship loads them


# The most characters each text field of an app takes (docs/limits.md); the page and the API
# both come through ``_apply_fields``.
APP_TEXT_LIMITS = {
    "description": inputs.DESCRIPTION_CHARS,
    "readme_content": inputs.README_CHARS,
    "license_url": inputs.URL_CHARS,
    "documentation_url": inputs.URL_CHARS,
    "repository_url": inputs.URL_CHARS,
    "api_url": inputs.URL_CHARS,
}


def _apply_fields(app: QuantumApp, fields: dict[str, Any]) -> None:
    enum_fields = {"type": AppType, "visibility": AppVisibility, "license_type": LicenseType}
    for key, value in fields.items():
        if key not in EDITABLE_FIELDS:
            continue
        if key in enum_fields and value is not None and not isinstance(value, enum_fields[key]):
            value = _enum(enum_fields[key], value)
        if isinstance(value, str):
            value = value.strip() or None
            if key in APP_TEXT_LIMITS:
                inputs.bounded_text(key, value, APP_TEXT_LIMITS[key])
        if key == "name":
            value = _clean_name(value)
        setattr(app, key, value)
    if app.is_in_registry and app.visibility is not AppVisibility.PUBLIC:
        raise ValidationFailed(
            "This app is in the Registry, which lists public apps only; remove it from the "
            "Registry before making it private or unlisted.",
            details={"visibility": "must stay PUBLIC while in the Registry"},
        )


def check_can_create_app(developer: User) -> None:
    """Forbidden unless ``developer`` may create apps (a PROVIDER or an admin)."""
    if not policy.may_create_apps(developer):
        raise Forbidden("Creating apps needs the PROVIDER role; ask an admin or upgrade.")


def create_app(developer: User, *, tags: list[str] | str | None = None, **fields) -> QuantumApp:
    """A new app owned by ``developer`` (a PROVIDER or an admin)."""
    check_can_create_app(developer)
    name = _clean_name(fields.get("name"))
    _check_unique_name(developer.id, name)
    app = QuantumApp(
        developer_id=developer.id,
        name=name,
        type=AppType.CIRCUIT,
        visibility=AppVisibility.PRIVATE,
        status=["DRAFT"],
    )
    _apply_fields(app, fields)
    db.session.add(app)
    set_tags(app, tags)
    db.session.flush()
    metrics.ensure_app_metrics(app.id)
    return app


def update_app(app: QuantumApp, *, tags: list[str] | str | None = None, **fields) -> QuantumApp:
    if "name" in fields:
        _check_unique_name(app.developer_id, _clean_name(fields["name"]), exclude=app.id)
    _apply_fields(app, fields)
    if tags is not None:
        set_tags(app, tags)
    db.session.flush()
    return app


def delete_app(app: QuantumApp) -> None:
    db.session.delete(app)
    db.session.flush()


def publish_problems(app: QuantumApp) -> dict[str, str]:
    """What stops ``app`` from entering the Registry (empty when it may)."""
    problems = {}
    if app.visibility is not AppVisibility.PUBLIC:
        problems["visibility"] = "Make the app public: the Registry lists public apps only."
    if app.license_type is None or app.license_type is LicenseType.PROPRIETARY:
        problems["license_type"] = "Choose an open-source licence (the Registry is open source)."
    if not (app.readme_content or "").strip():
        problems["readme_content"] = "Write a README so people know what the app does."
    if not any(v.status in DOWNLOADABLE for v in app.versions):
        problems["versions"] = "Publish a version first, so there is something to download."
    return problems


def publish_to_registry(app: QuantumApp) -> QuantumApp:
    problems = publish_problems(app)
    if problems:
        raise ValidationFailed(
            "The app cannot enter the Registry yet: " + " ".join(problems.values()),
            details=problems,
        )
    if not app.is_in_registry:
        app.is_in_registry = True
        app.registry_published_at = utcnow()
        app.status = ["PUBLISHED"]
    db.session.flush()
    return app


def remove_from_registry(app: QuantumApp) -> QuantumApp:
    app.is_in_registry = False
    app.featured_in_registry = False
    db.session.flush()
    return app


def set_featured(app: QuantumApp, user: User, featured: bool) -> QuantumApp:
    if not user.is_admin:
        raise Forbidden("Only admins choose featured apps.")
    if featured and not app.is_in_registry:
        raise ValidationFailed("Only apps in the Registry can be featured.")
    app.featured_in_registry = featured
    db.session.flush()
    return app


# -- versions -------------------------------------------------------------------------------


def sorted_versions(app: QuantumApp, newest_first: bool = True) -> list[AppVersion]:
    return sorted(
        app.versions, key=lambda v: semver.sort_key(v.version_number), reverse=newest_first
    )


def refresh_latest(app: QuantumApp) -> AppVersion | None:
    """Mark exactly one version latest: the highest PUBLISHED one by SemVer precedence,
    stable releases before pre-releases (DEPRECATED ones only when nothing is published;
    drafts and yanked never)."""

    def stable(versions):
        return [v for v in versions if not semver.parse(v.version_number).is_prerelease]

    published = [v for v in app.versions if v.status is VersionStatus.PUBLISHED]
    deprecated = [v for v in app.versions if v.status is VersionStatus.DEPRECATED]
    # Stable releases win over pre-releases, as with "latest" on package indexes.
    candidates = stable(published) or published or stable(deprecated) or deprecated
    latest = max(candidates, key=lambda v: semver.sort_key(v.version_number), default=None)
    # Clear first and flush: the partial unique index allows one latest row at a time.
    changed = False
    for version in app.versions:
        if version.is_latest and version is not latest:
            version.is_latest = False
            changed = True
    if changed:
        db.session.flush()
    if latest is not None:
        latest.is_latest = True
    app.latest_version_id = latest.id if latest is not None else None
    app.latest_version = latest
    db.session.flush()
    return latest


def get_version(app: QuantumApp, version_id: Any) -> AppVersion:
    version = db.session.get(AppVersion, _uuid(version_id, "version"))
    if version is None or version.quantum_app_id != app.id:
        raise NotFound("No such version of this app.")
    return version


def create_version(
    app: QuantumApp,
    *,
    version_number: str | None = None,
    package: bytes | None = None,
    entry_program: str | None = None,
    sdk: SDKType | str = SDKType.OPENQASM3,
    files: dict[str, str] | None = None,
    entry_program_path: str = "programs/main.qasm",
    release_notes: str | None = None,
    publish: bool = False,
    source_repo: str | None = None,
    source_commit_hash: str | None = None,
    sdk_version: str | None = None,
) -> AppVersion:
    """A new version of ``app``, from an uploaded package zip (``package``) or from source
    (``entry_program`` and optional extra ``files``, packaged here). The package is validated
    and its schemas, qubit count, resource estimate and checks are stored on the version.
    ``publish=True`` publishes it at once (and it may become the latest)."""
    inputs.bounded_text("release_notes", release_notes, inputs.RELEASE_NOTES_CHARS)
    inputs.bounded_text("source_repo", source_repo, inputs.URL_CHARS)
    inputs.bounded_text("source_commit_hash", source_commit_hash, 100)
    inputs.bounded_text("sdk_version", sdk_version, 50)
    if package is None:
        if not entry_program and not files:
            raise ValidationFailed(
                "Give either a package zip or the entry program source.",
                details={"package": "or entry_program"},
            )
        if not version_number:
            raise ValidationFailed(
                "A version number is needed, e.g. 1.0.0.",
                details={"version_number": "required"},
            )
        sources = dict(files or {})
        if entry_program:
            sources[entry_program_path] = entry_program
        package = build_package(
            name=app.name,
            version=version_number,
            sdk=sdk,
            entry_program_path=entry_program_path,
            files=sources,
            readme=app.readme_content,
        )
    info: PackageInfo = validate_package(package)
    number = str(semver.parse(version_number)) if version_number else info.version
    if number != info.version:
        raise ValidationFailed(
            f"The version number {number} does not match the package manifest ({info.version}).",
            details={"version_number": f"manifest says {info.version}"},
        )
    if any(v.version_number == number for v in app.versions):
        raise Conflict(
            f"Version {number} already exists; versions are immutable, so bump the number.",
            details={"version_number": "already exists"},
        )
    version = AppVersion(
        app=app,
        version_number=number,
        sdk_used=info.sdk,
        entry_program=info.entry_program,
        input_schema=info.input_schema,
        output_schema=info.output_schema,
        number_of_qubits=info.number_of_qubits,
        resource_estimate=info.resource_estimate,
        validation_results=info.validation_results,
        package_data=package,
        package_sha256=info.sha256,
        package_path=f"{app.id}/{number}.zip",
        ir_type="openqasm3" if info.entry_program.lstrip().startswith("OPENQASM 3") else None,
        release_notes=(release_notes or "").strip() or None,
        status=VersionStatus.DRAFT,
        source_repo=source_repo,
        source_commit_hash=source_commit_hash,
        built_on_quantum_sdk_version=sdk_version,
    )
    db.session.add(version)
    db.session.flush()
    if publish:
        change_status(version, VersionStatus.PUBLISHED)
    return version


def change_status(
    version: AppVersion, status: VersionStatus | str, *, reason: str | None = None
) -> AppVersion:
    """Move a version along its lifecycle. Yanking needs a reason (shown to users)."""
    target = status if isinstance(status, VersionStatus) else _enum(VersionStatus, status)
    if target is version.status:
        return version
    if target not in TRANSITIONS[version.status]:
        raise Conflict(
            f"A {version.status.value} version cannot become {target.value}.",
            details={"status": f"allowed: {sorted(s.value for s in TRANSITIONS[version.status])}"},
        )
    if target is VersionStatus.YANKED:
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed(
                "Say why the version is yanked; users see the reason.",
                details={"yank_reason": "required"},
            )
        version.yank_reason = reason[:255]
    elif target is VersionStatus.PUBLISHED:
        version.yank_reason = None
        version.published_at = version.published_at or utcnow()
    version.status = target
    db.session.flush()
    refresh_latest(version.app)
    return version


def update_version(
    version: AppVersion,
    *,
    release_notes: str | None = None,
    status: str | VersionStatus | None = None,
    yank_reason: str | None = None,
) -> AppVersion:
    inputs.bounded_text("yank_reason", yank_reason, 255)
    if release_notes is not None:
        inputs.bounded_text("release_notes", release_notes, inputs.RELEASE_NOTES_CHARS)
        version.release_notes = release_notes.strip() or None
    if status is not None:
        change_status(version, status, reason=yank_reason)
    db.session.flush()
    return version


def delete_version(version: AppVersion) -> None:
    """Only drafts are deleted; released versions are yanked so downloads stay reproducible."""
    if version.status is not VersionStatus.DRAFT:
        raise Conflict(
            f"Version {version.version_number} was released; yank it instead of deleting it.",
            details={"status": version.status.value},
        )
    app = version.app
    app.versions.remove(version)
    db.session.delete(version)
    db.session.flush()
    refresh_latest(app)


# -- downloads, views, likes ----------------------------------------------------------------


def download(
    app: QuantumApp, version: AppVersion | None = None, *, allow_yanked: bool = False
) -> tuple[AppVersion, bytes, str]:
    """The package of ``version`` (default: the latest), counting one download."""
    if version is None:
        version = app.latest_version
        if version is None:
            raise NotFound("This app has no published version to download yet.")
    if version.status is VersionStatus.YANKED and not allow_yanked:
        raise Conflict(
            f"Version {version.version_number} was yanked: {version.yank_reason} "
            "Download another version (or ask explicitly with allow_yanked).",
            details={"yank_reason": version.yank_reason},
        )
    if version.status is VersionStatus.DRAFT:
        raise NotFound("This version is a draft and cannot be downloaded yet.")
    data = version.package_data
    if not data:
        raise NotFound("This version has no package.")
    metrics.increment(app.id, "downloads")
    # Mirror on the app row too (same atomic UPDATE pattern) for the seed's column.
    db.session.execute(
        sa.update(QuantumApp)
        .where(QuantumApp.id == app.id)
        .values(registry_download_count=QuantumApp.registry_download_count + 1)
        .execution_options(synchronize_session=False)
    )
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in app.name.lower())
    return version, data, f"{safe}-{version.version_number}.zip"


def record_view(app_id: Any) -> None:
    """One view of a Registry app's page (counted, buffered, by analytics: see
    portal/analytics/counters.py)."""
    events.app_viewed.send(_uuid(app_id))


def has_liked(app: QuantumApp, user: User | None) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return (
        db.session.execute(
            sa.select(AppLike.id).filter_by(user_id=user.id, quantum_app_id=app.id)
        ).first()
        is not None
    )


def toggle_like(app: QuantumApp, user: User) -> bool:
    """Like or unlike; returns whether the user now likes the app. A lost race on the
    unique (user, app) key means the like already exists, which is what was asked."""
    existing = db.session.execute(
        sa.select(AppLike).filter_by(user_id=user.id, quantum_app_id=app.id)
    ).scalar_one_or_none()
    if existing is not None:
        db.session.delete(existing)
        db.session.flush()
        metrics.increment(app.id, "likes", -1)
        return False
    try:
        with db.session.begin_nested():
            db.session.add(AppLike(user_id=user.id, quantum_app_id=app.id))
    except sa.exc.IntegrityError:
        return True
    metrics.increment(app.id, "likes", 1)
    return True


# -- documentation pages --------------------------------------------------------------------


def _doc_fields(title: str | None, content: str | None) -> tuple[str, str]:
    title, content = (title or "").strip(), (content or "").strip()
    if not title or len(title) > 100:
        raise ValidationFailed(
            "A documentation page needs a title of 1 to 100 characters.",
            details={"title": "1-100 characters"},
        )
    if not content:
        raise ValidationFailed(
            "A documentation page needs content (Markdown).", details={"content": "required"}
        )
    inputs.bounded_text("content", content, inputs.DOC_CHARS, label="The page's content")
    return title, content


def add_doc(app: QuantumApp, *, title: str, content: str) -> Documentation:
    title, content = _doc_fields(title, content)
    order = max((d.order for d in app.documentation), default=-1) + 1
    doc = Documentation(quantum_app_id=app.id, title=title, content=content, order=order)
    app.documentation.append(doc)
    db.session.flush()
    return doc


def get_doc(app: QuantumApp, doc_id: Any) -> Documentation:
    doc = db.session.get(Documentation, _uuid(doc_id, "page"))
    if doc is None or doc.quantum_app_id != app.id:
        raise NotFound("No such documentation page for this app.")
    return doc


def update_doc(doc: Documentation, *, title: str, content: str) -> Documentation:
    doc.title, doc.content = _doc_fields(title, content)
    db.session.flush()
    return doc


def delete_doc(app: QuantumApp, doc: Documentation) -> None:
    app.documentation.remove(doc)
    db.session.flush()
    for index, page in enumerate(app.documentation):
        page.order = index
    db.session.flush()


def move_doc(app: QuantumApp, doc: Documentation, direction: str) -> None:
    """Swap a page with its neighbour ("up" or "down"); orders stay 0..n-1."""
    pages = list(app.documentation)
    index = pages.index(doc)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(pages):
        pages[index], pages[other] = pages[other], pages[index]
    for position, page in enumerate(pages):
        page.order = position
    db.session.flush()
    db.session.expire(app, ["documentation"])
