"""Model registry rules: names, tags, aliases, stages, and where a version's files come from.

A version's `source` never makes the server fetch anything: only `runs:/`, `models:/` and
`mlflow-artifacts:` sources inside locations this server issued are accepted, and each is
resolved once, at registration, to the `mlflow-artifacts:` location clients download from."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote, urlsplit

from swan_server.artifacts.paths import safe_relative_path
from swan_server.entities import PagedList
from swan_server.entities_mlflow3 import STAGES, VERSION_READY, ModelVersion, RegisteredModel
from swan_server.errors import SwanError, invalid
from swan_server.services import validation as v
from swan_server.services.access import AccessPolicy
from swan_server.services.artifacts import proxy_uri_to_path
from swan_server.store.abstract import ModelStore, TrackingStore

MAX_MODEL_NAME_LENGTH = 256
MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 100_000
SEARCH_MODELS_DEFAULT, SEARCH_MODELS_MAX = 100, 1000
SEARCH_VERSIONS_DEFAULT, SEARCH_VERSIONS_MAX = 10_000, 200_000

IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
PROMPT_SOURCES = ("dummy-source", "prompt-template")
_ALIAS_RE = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS_RE = re.compile(r"^[vV]\d+$")
_LOGGED_MODEL_ID_RE = re.compile(r"^m-[0-9a-f]{32}$")
PROXY = "mlflow-artifacts:"


def validate_model_name(name, field: str = "name") -> str:
    if name is None or not isinstance(name, str) or name.strip() == "":
        raise invalid(f"Missing value for required parameter '{field}'.")
    if "/" in name or ":" in name:
        raise invalid(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    if len(name) > MAX_MODEL_NAME_LENGTH:
        raise invalid(f"Model name '{name[:50]}...' exceeds the maximum length of {MAX_MODEL_NAME_LENGTH} characters")
    if posixpath.normpath(name) != name or name in (".", ".."):
        raise invalid(f"Invalid value '{name}' for parameter '{field}' supplied: names must not resolve to other names")
    return name


def validate_registry_tag(key, value) -> tuple[str, str]:
    if value is None:
        value = ""
    v.validate_key("tag", key)
    if len(key) > MAX_TAG_KEY_LENGTH:
        raise invalid(f"Tag key '{key[:50]}...' had length {len(key)}, which exceeded length limit of {MAX_TAG_KEY_LENGTH}")
    if not isinstance(value, str):
        raise invalid(f"Invalid value {value!r} for parameter 'value' supplied")
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise invalid(
            f"Tag value '{value[:100]}...' had length {len(value)}, which exceeded length limit of {MAX_TAG_VALUE_LENGTH}"
        )
    return key, value


def validate_alias(alias, reserved_check: bool = True) -> str:
    if alias is None or alias == "":
        raise invalid("Registered model alias name cannot be empty.")
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
        raise invalid(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise invalid(
            f"Registered model alias name '{alias[:50]}...' had length {len(alias)}, which exceeded length limit of {MAX_ALIAS_LENGTH}"
        )
    if reserved_check:
        if alias.lower() == "latest":
            raise invalid("'latest' alias name (case insensitive) is reserved.")
        if _VERSION_ALIAS_RE.match(alias):
            raise invalid(f"Version alias name '{alias}' is reserved.")
    return alias


def validate_version(version) -> int:
    if version is None or version == "":
        raise invalid("Missing value for required parameter 'version'.")
    try:
        number = int(str(version))
    except ValueError:
        raise invalid(f"Parameter 'version' must be an integer, got '{version}'.") from None
    if not 0 < number < 2**31:
        raise invalid(f"Parameter 'version' must be a positive integer, got '{version}'.")
    return number


def canonical_stage(stage) -> str:
    for s in STAGES:
        if isinstance(stage, str) and stage.lower() == s.lower():
            return s
    raise invalid(f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(STAGES)}.")


def _check_description(description) -> str | None:
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        raise invalid(f"Description exceeds the maximum length of {MAX_DESCRIPTION_LENGTH} characters")
    return description


def _bad_source(source: str, reason: str) -> SwanError:
    return invalid(f"Invalid model version source: '{source}'. {reason}")


def _within(location: str, root: str) -> bool:
    root = root.rstrip("/")
    return location == root or location.startswith(root + "/")


class RegistryService:
    def __init__(self, store: ModelStore, tracking: TrackingStore):
        self.store = store
        self.tracking = tracking
        # The registry is server-wide: every user reads it, members and admins change it.
        self.access = AccessPolicy(tracking)

    # -- registered models ----------------------------------------------------------------------
    def create_model(self, name, tags=None, description=None) -> RegisteredModel:
        self.access.require_writer()
        validate_model_name(name)
        tag_map = dict(validate_registry_tag(k, val) for k, val in (tags or {}).items())
        return self.store.create_registered_model(name, tag_map, _check_description(description))

    def get_model(self, name) -> RegisteredModel:
        self.access.require_reader()
        return self.store.get_registered_model(validate_model_name(name))

    def rename_model(self, name, new_name) -> RegisteredModel:
        self.access.require_writer()
        validate_model_name(name)
        validate_model_name(new_name, "new_name")
        return self.store.rename_registered_model(name, new_name)

    def update_model(self, name, description) -> RegisteredModel:
        self.access.require_writer()
        return self.store.update_registered_model(validate_model_name(name), _check_description(description))

    def delete_model(self, name) -> None:
        self.access.require_writer()
        self.store.delete_registered_model(validate_model_name(name))

    def search_models(self, filter_string=None, max_results=None, order_by=None, page_token=None) -> PagedList:
        self.access.require_reader()
        max_results = SEARCH_MODELS_DEFAULT if max_results is None else max_results
        if not 1 <= max_results <= SEARCH_MODELS_MAX:
            raise invalid(
                "Invalid value for request parameter max_results. It must be at most "
                f"{SEARCH_MODELS_MAX}, but got value {max_results}"
            )
        return self.store.search_registered_models(filter_string, max_results, order_by, page_token)

    def latest_versions(self, name, stages=None) -> list[ModelVersion]:
        self.access.require_reader()
        stages = [canonical_stage(s) for s in stages or []]
        return self.store.get_latest_versions(validate_model_name(name), stages)

    def set_model_tag(self, name, key, value) -> None:
        self.access.require_writer()
        validate_model_name(name)
        self.store.set_registered_model_tag(name, *validate_registry_tag(key, value))

    def delete_model_tag(self, name, key) -> None:
        self.access.require_writer()
        validate_model_name(name)
        v.validate_key("tag", key)
        self.store.delete_registered_model_tag(name, key)

    # -- aliases --------------------------------------------------------------------------------
    def set_alias(self, name, alias, version) -> None:
        self.access.require_writer()
        validate_model_name(name)
        self.store.set_registered_model_alias(name, validate_alias(alias), validate_version(version))

    def delete_alias(self, name, alias) -> None:
        self.access.require_writer()
        validate_model_name(name)
        self.store.delete_registered_model_alias(name, validate_alias(alias))

    def version_by_alias(self, name, alias) -> ModelVersion:
        self.access.require_reader()
        validate_model_name(name)
        return self.store.get_model_version_by_alias(name, validate_alias(alias, reserved_check=False))

    # -- versions -------------------------------------------------------------------------------------
    def _resolve_source(self, source: str, run_id: str | None, model_id: str | None):
        """(source, run_id, model_id, storage location) of a new version, or 400."""
        parts = urlsplit(source)
        if parts.query or parts.fragment:
            raise _bad_source(source, "Sources must not carry a query or fragment.")
        path = unquote(parts.path)
        if parts.scheme == "runs":
            if parts.netloc:
                raise _bad_source(source, "A runs:/ source must not name a host.")
            segments = path.lstrip("/").split("/", 1)
            source_run = segments[0]
            sub = safe_relative_path(segments[1] if len(segments) > 1 else "")
            if not source_run:
                raise _bad_source(source, "A runs:/ source must name a run: runs:/<run_id>/<path>.")
            if run_id and run_id != source_run:
                raise _bad_source(source, f"The source run does not match run_id '{run_id}'.")
            run = self.tracking.get_run(source_run)
            location = run.info.artifact_uri.rstrip("/") + (f"/{sub}" if sub else "")
            return source, source_run, model_id, location
        if parts.scheme == "models":
            if parts.netloc:
                raise _bad_source(source, "Registered model sources must use this server's registry.")
            ref = path.lstrip("/")
            if _LOGGED_MODEL_ID_RE.match(ref.split("/", 1)[0]):
                lm_id, _, sub = ref.partition("/")
                if model_id and model_id != lm_id:
                    raise _bad_source(source, f"The source model does not match model_id '{model_id}'.")
                lm = self.store.get_logged_model(lm_id)
                sub = safe_relative_path(sub)
                location = lm.artifact_location.rstrip("/") + (f"/{sub}" if sub else "")
                return source, run_id or lm.source_run_id, lm_id, location
            name, version, alias = None, None, None
            if "@" in ref:
                name, alias = ref.split("@", 1)
            elif "/" in ref:
                name, version = ref.split("/", 1)
            if not name or not (version or alias) or "/" in (version or alias):
                raise _bad_source(source, "Use models:/<name>/<version>, models:/<name>@<alias> or models:/<model_id>.")
            mv = (self.version_by_alias(name, alias) if alias else self.store.get_model_version(name, validate_version(version)))
            rm = self.store.get_registered_model(name)
            if rm.tags.get(IS_PROMPT_TAG, "").lower() == "true":
                raise _bad_source(source, "Prompt versions cannot be used as model version sources.")
            return f"models:/{name}/{mv.version}", run_id or mv.run_id, model_id or mv.model_id, mv.storage_location
        if source.startswith(PROXY):
            if parts.netloc:
                raise _bad_source(source, "mlflow-artifacts: sources must not name a host.")
            clean = safe_relative_path(path.lstrip("/"), allow_empty=False)
            location = f"{PROXY}/{clean}"
            if model_id:
                lm = self.store.get_logged_model(model_id)
                if _within(location, lm.artifact_location):
                    return source, run_id or lm.source_run_id, model_id, location
            if run_id:
                run = self.tracking.get_run(run_id)
                if _within(location, run.info.artifact_uri):
                    return source, run_id, model_id, location
            raise _bad_source(
                source,
                "An mlflow-artifacts: source must lie inside the artifact location of the run given "
                "as run_id (or of the logged model given as model_id).",
            )
        raise _bad_source(
            source, "Only runs:/, models:/ and mlflow-artifacts: sources served by this server are accepted."
        )

    def create_version(self, name, source, run_id=None, tags=None, run_link=None, description=None,
                       model_id=None) -> ModelVersion:
        self.access.require_writer()
        validate_model_name(name)
        if not source:
            raise invalid("Missing value for required parameter 'source'.")
        tag_map = dict(validate_registry_tag(k, val) for k, val in (tags or {}).items())
        is_prompt = tag_map.get(IS_PROMPT_TAG, "false").lower() == "true"
        if is_prompt:
            if source not in PROMPT_SOURCES:
                raise invalid(f"Invalid prompt source: '{source}'. Prompt sources must use an MLflow placeholder.")
            location = source
        else:
            # Lineage given by the caller must exist (and fit): it is stored with the version.
            if run_id:
                self.tracking.get_run(run_id)
            if model_id:
                self.store.get_logged_model(model_id)
            source, run_id, model_id, location = self._resolve_source(source, run_id or None, model_id or None)
            # A version may only be made from what the caller may read.
            if run_id:
                self.access.run(run_id)
            if model_id:
                self.access.project(self.store.get_logged_model(model_id).experiment_id)
            if location.startswith(PROXY):
                self.access.artifact_path(proxy_uri_to_path(location))
        mv = self.store.create_model_version(
            name, source, run_id, tag_map, run_link, _check_description(description), model_id, location,
            VERSION_READY,
        )
        if model_id and not is_prompt:
            self._tag_logged_model(model_id, name, mv.version)
        return mv

    def _tag_logged_model(self, model_id: str, name: str, version: int) -> None:
        """As MLflow: the logged model lists its registrations in the `mlflow.modelVersions` tag."""
        import json

        lm = self.store.get_logged_model(model_id)
        entry = {"name": name, "version": str(version)}
        try:
            existing = json.loads(lm.tags.get("mlflow.modelVersions") or "[]")
        except ValueError:
            existing = []
        if not isinstance(existing, list):
            existing = []
        if entry not in existing:
            existing.append(entry)
        self.store.set_logged_model_tags(model_id, {"mlflow.modelVersions": json.dumps(existing)})

    def get_version(self, name, version) -> ModelVersion:
        self.access.require_reader()
        return self.store.get_model_version(validate_model_name(name), validate_version(version))

    def update_version(self, name, version, description) -> ModelVersion:
        self.access.require_writer()
        return self.store.update_model_version(validate_model_name(name), validate_version(version),
                                               _check_description(description))

    def delete_version(self, name, version) -> None:
        self.access.require_writer()
        self.store.delete_model_version(validate_model_name(name), validate_version(version))

    def transition_stage(self, name, version, stage, archive_existing_versions=False) -> ModelVersion:
        self.access.require_writer()
        return self.store.transition_model_version_stage(
            validate_model_name(name), validate_version(version), canonical_stage(stage), bool(archive_existing_versions)
        )

    def download_uri(self, name, version) -> str:
        self.access.require_reader()
        return self.store.get_model_version_download_uri(validate_model_name(name), validate_version(version))

    def set_version_tag(self, name, version, key, value) -> None:
        self.access.require_writer()
        validate_model_name(name)
        self.store.set_model_version_tag(name, validate_version(version), *validate_registry_tag(key, value))

    def delete_version_tag(self, name, version, key) -> None:
        self.access.require_writer()
        validate_model_name(name)
        v.validate_key("tag", key)
        self.store.delete_model_version_tag(name, validate_version(version), key)

    def search_versions(self, filter_string=None, max_results=None, order_by=None, page_token=None) -> PagedList:
        self.access.require_reader()
        max_results = SEARCH_VERSIONS_DEFAULT if max_results is None else max_results
        if not 1 <= max_results <= SEARCH_VERSIONS_MAX:
            raise invalid(
                "Invalid value for request parameter max_results. It must be at most "
                f"{SEARCH_VERSIONS_MAX}, but got value {max_results}"
            )
        return self.store.search_model_versions(filter_string, max_results, order_by, page_token)
