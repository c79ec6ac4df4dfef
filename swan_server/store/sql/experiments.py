"""Experiments (Swan projects) in SQL."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from swan_server.db import schema as t

from swan_server.entities import ACTIVE, DELETED, Experiment, PagedList
from swan_server.errors import already_exists, invalid, not_found
from swan_server.search.filter import ATTRIBUTE, TAG, parse_experiment_filter, parse_experiment_order_by
from swan_server.store.abstract import VIEW_ALL, VIEW_DELETED
from swan_server.store.paging import decode_offset, encode_offset
from swan_server.store.sql.base import SqlStoreBase, now_ms

DEFAULT_WORKSPACE_ID = 1
# Kept for the modules that import it from here; the rule lives in store.paging.
page_offset = decode_offset


def lifecycle_condition(column, view_type: str):
    if view_type == VIEW_ALL:
        return None
    return column == (DELETED if view_type == VIEW_DELETED else ACTIVE)


class ExperimentsMixin(SqlStoreBase):
    def _to_experiment(self, conn: Connection, row: Row, tags: dict[str, str] | None = None) -> Experiment:
        if tags is None:
            tags = dict(
                conn.execute(
                    select(t.project_tags.c.key, t.project_tags.c.value).where(
                        t.project_tags.c.project_id == row.id
                    )
                ).all()
            )
        return Experiment(
            experiment_id=str(row.id),
            name=row.name,
            artifact_location=row.artifact_location,
            lifecycle_stage=row.lifecycle_stage,
            creation_time=row.creation_time,
            last_update_time=row.last_update_time,
            tags=tags,
        )

    def create_experiment(self, name, artifact_location, tags, workspace_id: int = DEFAULT_WORKSPACE_ID):
        now = now_ms()
        with self.write() as conn:
            existing = conn.execute(select(t.projects).where(t.projects.c.name == name)).first()
            if existing is not None:
                state = " in deleted state" if existing.lifecycle_stage == DELETED else ""
                raise already_exists(f"Experiment '{name}' already exists{state}.")
            try:
                exp_id = conn.execute(
                    t.projects.insert().values(
                        workspace_id=workspace_id,
                        name=name,
                        artifact_location=artifact_location or "",
                        lifecycle_stage=ACTIVE,
                        creation_time=now,
                        last_update_time=now,
                    )
                ).inserted_primary_key[0]
            except IntegrityError:
                raise already_exists(f"Experiment '{name}' already exists.") from None
            if not artifact_location:
                conn.execute(
                    update(t.projects)
                    .where(t.projects.c.id == exp_id)
                    .values(artifact_location=f"mlflow-artifacts:/{exp_id}")
                )
            if tags:
                conn.execute(
                    t.project_tags.insert(),
                    [{"project_id": exp_id, "key": k, "value": v} for k, v in tags.items()],
                )
        return str(exp_id)

    def get_experiment(self, experiment_id):
        with self.read() as conn:
            return self._to_experiment(conn, self._experiment_row(conn, experiment_id))

    def get_experiment_by_name(self, name):
        with self.read() as conn:
            row = conn.execute(select(t.projects).where(t.projects.c.name == name)).first()
            return None if row is None else self._to_experiment(conn, row)

    def search_experiments(self, view_type, max_results, filter_string, order_by, page_token, workspace_ids=None):
        comparisons = parse_experiment_filter(filter_string)
        orders = parse_experiment_order_by(order_by)
        offset = page_offset(page_token)
        p = t.projects
        query = select(p)
        if workspace_ids is not None:  # only the workspaces the caller may read
            query = query.where(p.c.workspace_id.in_(list(workspace_ids)))
        cond = lifecycle_condition(p.c.lifecycle_stage, view_type)
        if cond is not None:
            query = query.where(cond)
        for c in comparisons:
            if c.entity == ATTRIBUTE:
                col = p.c.id if c.key == "experiment_id" else p.c[c.key]
                query = query.where(self._compare(col, c.op, c.value))
            elif c.entity == TAG:
                tag = select(t.project_tags.c.project_id).where(
                    t.project_tags.c.project_id == p.c.id, t.project_tags.c.key == c.key
                )
                if c.op == "IS NULL":
                    query = query.where(~tag.exists())
                elif c.op == "IS NOT NULL":
                    query = query.where(tag.exists())
                else:
                    query = query.where(tag.where(self._compare(t.project_tags.c.value, c.op, c.value)).exists())
        # MLflow's order: by default newest first (creation_time DESC, experiment_id ASC); with an
        # explicit order_by, ties are broken by experiment_id DESC unless it is already a key.
        ordering = []
        for o in orders:
            col = p.c.id if o.key == "experiment_id" else p.c[o.key]
            ordering.append(col.asc() if o.ascending else col.desc())
        if not orders:
            ordering += [p.c.creation_time.desc(), p.c.id.asc()]
        elif not any(o.key == "experiment_id" for o in orders):
            ordering.append(p.c.id.desc())
        query = query.order_by(*ordering).offset(offset).limit(max_results + 1)
        with self.read() as conn:
            rows = conn.execute(query).all()
            has_more = len(rows) > max_results
            rows = rows[:max_results]
            tags_by_id: dict[int, dict[str, str]] = {r.id: {} for r in rows}
            if rows:
                for pid, k, v in conn.execute(
                    select(t.project_tags.c.project_id, t.project_tags.c.key, t.project_tags.c.value).where(
                        t.project_tags.c.project_id.in_(list(tags_by_id))
                    )
                ):
                    tags_by_id[pid][k] = v
            items = [self._to_experiment(conn, r, tags_by_id[r.id]) for r in rows]
        return PagedList(items, encode_offset(offset + max_results) if has_more else None)

    def rename_experiment(self, experiment_id, new_name):
        with self.write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != ACTIVE:
                raise invalid("Cannot rename a non-active experiment.")
            clash = conn.execute(select(t.projects.c.id).where(t.projects.c.name == new_name)).first()
            if clash is not None and clash.id != row.id:
                raise already_exists(f"Experiment '{new_name}' already exists.")
            conn.execute(
                update(t.projects).where(t.projects.c.id == row.id).values(name=new_name, last_update_time=now_ms())
            )

    def delete_experiment(self, experiment_id):
        with self.write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.id == 0:
                raise invalid("Cannot delete the default experiment '0'. This is an internally reserved experiment.")
            if row.lifecycle_stage != ACTIVE:
                # As in MLflow (the lookup only sees active experiments). Deleting again would
                # also move deleted_time, so a later restore would leave the runs deleted.
                raise not_found(f"No Experiment with id={experiment_id} exists")
            now = now_ms()
            conn.execute(
                update(t.projects)
                .where(t.projects.c.id == row.id)
                .values(lifecycle_stage=DELETED, last_update_time=now, deleted_time=now)
            )
            conn.execute(
                update(t.runs)
                .where(t.runs.c.project_id == row.id, t.runs.c.lifecycle_stage == ACTIVE)
                .values(lifecycle_stage=DELETED, deleted_time=now)
            )

    def restore_experiment(self, experiment_id):
        with self.write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != DELETED:
                raise invalid(f"Cannot restore an experiment that is not deleted ({row.lifecycle_stage}).")
            conn.execute(
                update(t.projects)
                .where(t.projects.c.id == row.id)
                .values(lifecycle_stage=ACTIVE, last_update_time=now_ms(), deleted_time=None)
            )
            # Runs deleted together with the experiment come back with it.
            if row.deleted_time is not None:
                conn.execute(
                    update(t.runs)
                    .where(t.runs.c.project_id == row.id, t.runs.c.deleted_time == row.deleted_time)
                    .values(lifecycle_stage=ACTIVE, deleted_time=None)
                )

    def set_experiment_tag(self, experiment_id, key, value):
        with self.write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != ACTIVE:
                raise invalid(f"The experiment {row.id} must be in the 'active' state. Current state is {row.lifecycle_stage}.")
            conn.execute(delete(t.project_tags).where(t.project_tags.c.project_id == row.id, t.project_tags.c.key == key))
            conn.execute(t.project_tags.insert().values(project_id=row.id, key=key, value=value))
            conn.execute(update(t.projects).where(t.projects.c.id == row.id).values(last_update_time=now_ms()))

    def delete_experiment_tag(self, experiment_id, key):
        with self.write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage != ACTIVE:
                raise invalid(f"The experiment {row.id} must be in the 'active' state. Current state is {row.lifecycle_stage}.")
            res = conn.execute(
                delete(t.project_tags).where(t.project_tags.c.project_id == row.id, t.project_tags.c.key == key)
            )
            if res.rowcount == 0:
                raise not_found(f"No tag with name: {key} in experiment with id {row.id}")
