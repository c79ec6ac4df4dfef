"""Retention: permanent deletion of deleted runs, projects and logged models (`swan gc`), and
housekeeping of idempotency keys and expired sessions.

Logged models follow `mlflow gc`: a deleted one is purged once its deletion is old enough. A
model produced by a purged run (its `source_run_id`) is purged with that run, in the same
transaction. Either way, a logged model that a registered model version was made from is kept
(rows and files): the version downloads from the model's location. Model versions are never
touched; a version whose run was purged keeps its `run_id` and stays readable, as in MLflow.

Only rows go here; the service deletes a run's or project's artifacts *before* its rows, so an
interrupted gc leaves rows that the next gc finds again, never orphaned files."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, func, or_, select

from swan_server.db import schema as t
from swan_server.entities import DELETED
from swan_server.store.sql.base import SqlStoreBase, chunks

# Child tables of a run keyed by its integer id (metric points go through their series).
_RUN_CHILDREN = (
    t.params, t.run_tags, t.media_items, t.log_lines, t.run_profiles, t.run_heartbeats,
    t.run_model_outputs, t.run_model_inputs,
)


@dataclass
class RunToPurge:
    run_id: str
    project_id: int
    artifact_uri: str


@dataclass
class ModelToPurge:
    model_id: str
    project_id: int
    artifact_location: str
    # "deleted" (its own deletion is old enough or it was named) or "run" (its source run goes).
    reason: str = "deleted"
    source_run_id: str | None = None


@dataclass
class ProjectToPurge:
    project_id: int
    name: str
    artifact_location: str
    # Every run of the project, whatever its stage; logged-model and trace artifact locations.
    runs: list[RunToPurge] = field(default_factory=list)
    model_locations: list[str] = field(default_factory=list)
    trace_locations: list[str] = field(default_factory=list)
    # False when another project's location lies under this one's (then only the pieces go).
    root_is_own: bool = True


class RetentionMixin(SqlStoreBase):
    def gc_candidates(self, deleted_before: int, run_ids: list[str] | None = None,
                      experiment_ids: list[str] | None = None) -> tuple[list[ProjectToPurge], list[RunToPurge]]:
        """Deleted projects and deleted runs (of other projects) whose deletion time is at or
        before `deleted_before` (ms). `run_ids` / `experiment_ids` restrict the choice; naming a
        run or project that is not deleted is an error."""
        from swan_server.errors import invalid, not_found

        R, P = t.runs, t.projects
        with self.read() as conn:
            pq = select(P).where(P.c.lifecycle_stage == DELETED)
            if experiment_ids is not None:
                ids = [self._experiment_row(conn, e) for e in experiment_ids]
                for row in ids:
                    if row.lifecycle_stage != DELETED:
                        raise invalid(f"Experiment {row.id} is not deleted (delete it first)")
                pq = pq.where(P.c.id.in_([r.id for r in ids]))
            else:
                pq = pq.where(or_(P.c.deleted_time.is_(None), P.c.deleted_time <= deleted_before))
            projects = []
            neither = run_ids is None and experiment_ids is None
            if experiment_ids is not None or neither:
                for row in conn.execute(pq.order_by(P.c.id)).all():
                    projects.append(self._project_to_purge(conn, row))
            runs: list[RunToPurge] = []
            if run_ids is not None or neither:
                rq = select(R.c.run_uuid, R.c.project_id, R.c.artifact_uri).where(R.c.lifecycle_stage == DELETED)
                if run_ids is not None:
                    for rid in run_ids:
                        row = conn.execute(select(R.c.lifecycle_stage).where(R.c.run_uuid == rid)).first()
                        if row is None:
                            raise not_found(f"Run with id={rid} not found")
                        if row.lifecycle_stage != DELETED:
                            raise invalid(f"Run {rid} is not deleted (delete it first)")
                    rq = rq.where(R.c.run_uuid.in_(run_ids))
                else:
                    rq = rq.where(or_(R.c.deleted_time.is_(None), R.c.deleted_time <= deleted_before))
                purged_projects = {p.project_id for p in projects}
                runs = [RunToPurge(r.run_uuid, r.project_id, r.artifact_uri)
                        for r in conn.execute(rq.order_by(R.c.id)).all() if r.project_id not in purged_projects]
        return projects, runs

    def gc_model_candidates(self, deleted_before: int, runs: list[str], model_ids: list[str] | None,
                            sweep: bool, purged_projects: set[int]) -> tuple[list[ModelToPurge], list[str]]:
        """(logged models to purge, ids of models kept because a registered model version was made
        from them). Candidates: the models produced by `runs` (being purged), the deleted models
        named in `model_ids`, and with `sweep` every model deleted at or before `deleted_before`.
        Models of `purged_projects` go with their project and are left out. Naming a model that
        is missing, not deleted or still registered is an error."""
        from swan_server.errors import invalid, not_found

        LM, MV = t.logged_models, t.model_versions
        cols = (LM.c.model_id, LM.c.project_id, LM.c.artifact_location, LM.c.source_run_id, LM.c.lifecycle_stage)
        found: dict[str, ModelToPurge] = {}
        with self.read() as conn:
            if model_ids is not None:
                for mid in model_ids:
                    row = conn.execute(select(*cols).where(LM.c.model_id == mid)).first()
                    if row is None:
                        raise not_found(f"Logged model with ID '{mid}' not found.")
                    if row.lifecycle_stage != DELETED:
                        raise invalid(f"Logged model {mid} is not deleted (delete it first)")
                    found[mid] = ModelToPurge(mid, row.project_id, row.artifact_location, "deleted", row.source_run_id)
            if sweep:
                q = select(*cols).where(LM.c.lifecycle_stage == DELETED, LM.c.last_updated_time <= deleted_before)
                for row in conn.execute(q.order_by(LM.c.id)):
                    found.setdefault(row.model_id, ModelToPurge(row.model_id, row.project_id, row.artifact_location,
                                                                "deleted", row.source_run_id))
            for part in chunks(list(runs)):
                for row in conn.execute(select(*cols).where(LM.c.source_run_id.in_(part)).order_by(LM.c.id)):
                    found.setdefault(row.model_id, ModelToPurge(row.model_id, row.project_id, row.artifact_location,
                                                                "run", row.source_run_id))
            candidates = [m for m in found.values() if m.project_id not in purged_projects]
            registered: set[str] = set()
            for part in chunks([m.model_id for m in candidates]):
                registered.update(conn.execute(
                    select(MV.c.logged_model_id).where(MV.c.logged_model_id.in_(part)).distinct()).scalars())
        if model_ids is not None:
            for mid in model_ids:
                if mid in registered:
                    raise invalid(f"Logged model {mid} is still used by a registered model version "
                                  "(delete the version first)")
        kept = [m.model_id for m in candidates if m.model_id in registered]
        return [m for m in candidates if m.model_id not in registered], kept

    def _project_to_purge(self, conn, row) -> ProjectToPurge:
        R, LM, TT = t.runs, t.logged_models, t.trace_tags
        out = ProjectToPurge(row.id, row.name, row.artifact_location)
        out.runs = [RunToPurge(r.run_uuid, row.id, r.artifact_uri)
                    for r in conn.execute(select(R.c.run_uuid, R.c.artifact_uri).where(R.c.project_id == row.id))]
        out.model_locations = list(conn.execute(select(LM.c.artifact_location).where(LM.c.project_id == row.id)).scalars())
        out.trace_locations = list(conn.execute(
            select(TT.c.value).join(t.traces, t.traces.c.id == TT.c.trace_pk)
            .where(t.traces.c.project_id == row.id, TT.c.key == "mlflow.artifactLocation")
        ).scalars())
        root = row.artifact_location.rstrip("/")
        others = conn.execute(select(t.projects.c.artifact_location).where(t.projects.c.id != row.id)).scalars()
        out.root_is_own = bool(root) and not any(
            (o or "").rstrip("/") == root or (o or "").startswith(root + "/") for o in others
        )
        return out

    def purge_run(self, run_id: str, model_ids: list[str] = ()) -> int:
        """Delete a run and everything stored under it, and the logged models `model_ids` (those
        it produced), in one transaction; returns the number of metric points removed (0 when
        the run is already gone)."""
        with self.write() as conn:
            self._purge_model_rows(conn, list(model_ids))
            pk = conn.execute(select(t.runs.c.id).where(t.runs.c.run_uuid == run_id)).scalar()
            if pk is None:
                return 0
            return self._purge_run_rows(conn, pk, run_id)

    def purge_logged_model(self, model_id: str) -> bool:
        """Delete a logged model with its tags, params, metrics and run links; False when it is
        already gone."""
        with self.write() as conn:
            return self._purge_model_rows(conn, [model_id]) > 0

    def _purge_model_rows(self, conn, model_ids: list[str]) -> int:
        LM = t.logged_models
        n = 0
        for ids in chunks(model_ids):
            pks = list(conn.execute(select(LM.c.id).where(LM.c.model_id.in_(ids))).scalars())
            if not pks:
                continue
            for table in (t.logged_model_tags, t.logged_model_params, t.logged_model_metrics,
                          t.run_model_outputs, t.run_model_inputs):
                conn.execute(delete(table).where(table.c.model_pk.in_(pks)))
            n += conn.execute(delete(LM).where(LM.c.id.in_(pks))).rowcount or 0
        return n

    def _purge_run_rows(self, conn, pk: int, run_uuid: str) -> int:
        S, CH = t.metric_series, t.metric_chunks
        series = list(conn.execute(select(S.c.id).where(S.c.run_id == pk)).scalars())
        points = 0
        for part in chunks(series):
            points += conn.execute(select(func.coalesce(func.sum(CH.c.point_count), 0))
                                   .where(CH.c.series_id.in_(part))).scalar() or 0
            conn.execute(delete(CH).where(CH.c.series_id.in_(part)))
            conn.execute(delete(t.metric_rollups).where(t.metric_rollups.c.series_id.in_(part)))
        conn.execute(delete(S).where(S.c.run_id == pk))
        inputs = list(conn.execute(select(t.run_inputs.c.id).where(t.run_inputs.c.run_id == pk)).scalars())
        for part in chunks(inputs):
            conn.execute(delete(t.input_tags).where(t.input_tags.c.input_id.in_(part)))
        conn.execute(delete(t.run_inputs).where(t.run_inputs.c.run_id == pk))
        for table in _RUN_CHILDREN:
            conn.execute(delete(table).where(table.c.run_id == pk))
        conn.execute(delete(t.trace_run_links).where(t.trace_run_links.c.run_id == run_uuid))
        conn.execute(delete(t.runs).where(t.runs.c.id == pk))
        return points

    def purge_project(self, project_id: int) -> None:
        """Delete a project whose runs are already purged, with its logged models, traces,
        datasets, tags and columns, in one transaction."""
        LM, TR = t.logged_models, t.traces
        with self.write() as conn:
            for pk, run_uuid in conn.execute(
                select(t.runs.c.id, t.runs.c.run_uuid).where(t.runs.c.project_id == project_id)
            ).all():
                self._purge_run_rows(conn, pk, run_uuid)
            models = list(conn.execute(select(LM.c.id).where(LM.c.project_id == project_id)).scalars())
            for part in chunks(models):
                for table in (t.logged_model_tags, t.logged_model_params, t.logged_model_metrics,
                              t.run_model_outputs, t.run_model_inputs):
                    conn.execute(delete(table).where(table.c.model_pk.in_(part)))
            conn.execute(delete(LM).where(LM.c.project_id == project_id))
            traces = list(conn.execute(select(TR.c.id).where(TR.c.project_id == project_id)).scalars())
            for part in chunks(traces):
                for table in (t.trace_tags, t.trace_metadata, t.trace_run_links):
                    conn.execute(delete(table).where(table.c.trace_pk.in_(part)))
            conn.execute(delete(TR).where(TR.c.project_id == project_id))
            datasets = list(conn.execute(select(t.datasets.c.id).where(t.datasets.c.project_id == project_id)).scalars())
            for part in chunks(datasets):
                conn.execute(delete(t.run_inputs).where(t.run_inputs.c.dataset_id.in_(part)))
            conn.execute(delete(t.datasets).where(t.datasets.c.project_id == project_id))
            conn.execute(delete(t.project_tags).where(t.project_tags.c.project_id == project_id))
            conn.execute(delete(t.project_columns).where(t.project_columns.c.project_id == project_id))
            conn.execute(delete(t.projects).where(t.projects.c.id == project_id))

    def purge_housekeeping(self, batch_keys_before: int, now: int) -> tuple[int, int]:
        """Forget idempotency keys older than `batch_keys_before` and sessions expired by `now`
        (ms); returns (keys, sessions) removed."""
        with self.write() as conn:
            keys = conn.execute(
                delete(t.applied_batches).where(t.applied_batches.c.created_time < batch_keys_before)
            ).rowcount or 0
            sessions = conn.execute(delete(t.sessions).where(t.sessions.c.expires_time < now)).rowcount or 0
        return keys, sessions

    def server_totals(self) -> dict:
        """What is stored, for /metrics: projects by stage, runs by (stage, status), series and
        points (from the per-series summaries, never the points table)."""
        P, R, S = t.projects, t.runs, t.metric_series
        with self.read() as conn:
            projects = dict(conn.execute(select(P.c.lifecycle_stage, func.count()).group_by(P.c.lifecycle_stage)).all())
            runs = {(stage, status): n for stage, status, n in conn.execute(
                select(R.c.lifecycle_stage, R.c.status, func.count()).group_by(R.c.lifecycle_stage, R.c.status))}
            series, points = conn.execute(select(func.count(), func.coalesce(func.sum(S.c.point_count), 0))).one()
        return {"projects": projects, "runs": runs, "series": int(series or 0), "points": int(points or 0)}
