"""The model registry in SQL: registered models, versions, tags and aliases."""

from __future__ import annotations

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from swan_server.db import schema as t
from swan_server.db.dialects import insert_ignore
from swan_server.entities import PagedList
from swan_server.entities_mlflow3 import STAGE_NONE, ModelVersion, RegisteredModel
from swan_server.errors import already_exists, invalid, not_found
from swan_server.search.filter import TAG, Comparison
from swan_server.search.registry_filter import (
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
)
from swan_server.store.paging import encode_offset
from swan_server.store.sql.base import SqlStoreBase, chunks, now_ms
from swan_server.store.sql.experiments import page_offset

RM, RMT, RMA = t.registered_models, t.registered_model_tags, t.registered_model_aliases
MV, MVT = t.model_versions, t.model_version_tags
IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
STAGE_ARCHIVED = "Archived"


def _version_int(version) -> int:
    try:
        value = int(str(version))
    except (TypeError, ValueError):
        raise invalid(f"Parameter 'version' must be an integer, got '{version}'.") from None
    if not 0 < value < 2**31:
        raise invalid(f"Parameter 'version' must be a positive integer, got '{version}'.")
    return value


class RegistryMixin(SqlStoreBase):
    # -- lookups ----------------------------------------------------------------------------------
    def _rm_row(self, conn: Connection, name: str, for_update: bool = False) -> Row:
        query = select(RM).where(RM.c.name == name)
        if for_update:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise not_found(f"Registered Model with name={name} not found")
        return row

    def _mv_row(self, conn: Connection, rm: Row, version) -> Row:
        number = _version_int(version)
        row = conn.execute(select(MV).where(MV.c.model_id == rm.id, MV.c.version == number)).first()
        if row is None:
            raise not_found(f"Model Version (name={rm.name}, version={number}) not found")
        return row

    def _touch_registered_model(self, conn: Connection, rm_id: int, ts: int | None = None) -> None:
        conn.execute(update(RM).where(RM.c.id == rm_id).values(last_updated_time=ts or now_ms()))

    # -- loading records ------------------------------------------------------------------------
    def _load_versions(self, conn: Connection, rows: list[Row], names: dict[int, str]) -> list[ModelVersion]:
        if not rows:
            return []
        tags: dict[int, dict[str, str]] = {}
        aliases: dict[tuple[int, int], list[str]] = {}
        ids = [r.id for r in rows]
        model_ids = sorted({r.model_id for r in rows})
        for part in chunks(ids):
            for vid, k, v in conn.execute(select(MVT.c.version_id, MVT.c.key, MVT.c.value).where(MVT.c.version_id.in_(part))):
                tags.setdefault(vid, {})[k] = v
        for part in chunks(model_ids):
            for mid, alias, ver in conn.execute(
                select(RMA.c.model_id, RMA.c.alias, RMA.c.version).where(RMA.c.model_id.in_(part)).order_by(RMA.c.alias)
            ):
                aliases.setdefault((mid, ver), []).append(alias)
        return [
            ModelVersion(
                name=names[r.model_id], version=r.version, creation_timestamp=r.creation_time,
                last_updated_timestamp=r.last_updated_time, current_stage=r.current_stage, source=r.source,
                status=r.status, storage_location=r.storage_location, description=r.description,
                user_id=r.user_id, run_id=r.run_id, run_link=r.run_link, status_message=r.status_message,
                model_id=r.logged_model_id, tags=tags.get(r.id, {}), aliases=aliases.get((r.model_id, r.version), []),
            )
            for r in rows
        ]

    def _load_models(self, conn: Connection, rows: list[Row]) -> list[RegisteredModel]:
        out = {r.id: RegisteredModel(r.name, r.creation_time, r.last_updated_time, r.description, r.user_id) for r in rows}
        names = {r.id: r.name for r in rows}
        for part in chunks(list(out)):
            for mid, k, v in conn.execute(select(RMT.c.model_id, RMT.c.key, RMT.c.value).where(RMT.c.model_id.in_(part))):
                out[mid].tags[k] = v
            for mid, alias, ver in conn.execute(
                select(RMA.c.model_id, RMA.c.alias, RMA.c.version).where(RMA.c.model_id.in_(part)).order_by(RMA.c.alias)
            ):
                out[mid].aliases[alias] = ver
            # The latest version in each stage.
            latest = (
                select(MV.c.model_id, MV.c.current_stage, func.max(MV.c.version).label("v"))
                .where(MV.c.model_id.in_(part))
                .group_by(MV.c.model_id, MV.c.current_stage)
                .subquery()
            )
            vrows = conn.execute(
                select(MV).join(latest, and_(MV.c.model_id == latest.c.model_id, MV.c.version == latest.c.v))
                .order_by(MV.c.model_id, MV.c.version)
            ).all()
            for row, mv in zip(vrows, self._load_versions(conn, vrows, names)):
                out[row.model_id].latest_versions.append(mv)
        return [out[r.id] for r in rows]

    def _model(self, conn: Connection, name: str) -> RegisteredModel:
        return self._load_models(conn, [self._rm_row(conn, name)])[0]

    def _version(self, conn: Connection, rm: Row, version) -> ModelVersion:
        return self._load_versions(conn, [self._mv_row(conn, rm, version)], {rm.id: rm.name})[0]

    # -- registered models ----------------------------------------------------------------------
    def create_registered_model(self, name, tags, description, user_id=None):
        ts = now_ms()
        try:
            with self.write() as conn:
                if conn.execute(select(RM.c.id).where(RM.c.name == name)).first():
                    raise already_exists(f"Registered Model (name={name}) already exists.")
                rm_id = conn.execute(
                    RM.insert().values(name=name, creation_time=ts, last_updated_time=ts, description=description,
                                       user_id=user_id, last_version=0)
                ).inserted_primary_key[0]
                if tags:
                    conn.execute(RMT.insert(), [{"model_id": rm_id, "key": k, "value": v} for k, v in tags.items()])
        except IntegrityError:
            raise already_exists(f"Registered Model (name={name}) already exists.") from None
        return self.get_registered_model(name)

    def get_registered_model(self, name):
        with self.read() as conn:
            return self._model(conn, name)

    def rename_registered_model(self, name, new_name):
        try:
            with self.write() as conn:
                rm = self._rm_row(conn, name)
                if new_name != name and conn.execute(select(RM.c.id).where(RM.c.name == new_name)).first():
                    raise already_exists(f"Registered Model (name={new_name}) already exists.")
                conn.execute(update(RM).where(RM.c.id == rm.id).values(name=new_name, last_updated_time=now_ms()))
        except IntegrityError:
            raise already_exists(f"Registered Model (name={new_name}) already exists.") from None
        return self.get_registered_model(new_name)

    def update_registered_model(self, name, description):
        with self.write() as conn:
            rm = self._rm_row(conn, name)
            conn.execute(update(RM).where(RM.c.id == rm.id).values(description=description, last_updated_time=now_ms()))
            return self._model(conn, name)

    def delete_registered_model(self, name):
        with self.write() as conn:
            rm = self._rm_row(conn, name)
            version_ids = select(MV.c.id).where(MV.c.model_id == rm.id)
            conn.execute(delete(MVT).where(MVT.c.version_id.in_(version_ids)))
            conn.execute(delete(MV).where(MV.c.model_id == rm.id))
            conn.execute(delete(RMA).where(RMA.c.model_id == rm.id))
            conn.execute(delete(RMT).where(RMT.c.model_id == rm.id))
            conn.execute(delete(RM).where(RM.c.id == rm.id))

    def set_registered_model_tag(self, name, key, value):
        with self.write() as conn:
            rm = self._rm_row(conn, name)
            conn.execute(delete(RMT).where(RMT.c.model_id == rm.id, RMT.c.key == key))
            conn.execute(insert_ignore(RMT, self.dialect).values(model_id=rm.id, key=key, value=value))
            self._touch_registered_model(conn, rm.id)

    def delete_registered_model_tag(self, name, key):
        with self.write() as conn:
            rm = self._rm_row(conn, name)
            conn.execute(delete(RMT).where(RMT.c.model_id == rm.id, RMT.c.key == key))

    def _tag_condition(self, table, owner_col, c: Comparison):
        """A tag comparison; the prompt marker tag counts as 'false' where it is absent."""
        has = select(table.c.key).where(table.c.key == c.key, owner_col)
        cond = has.where(self._compare(table.c.value, c.op, c.value)).exists()
        if c.key == IS_PROMPT_TAG and ((c.op == "=" and c.value == "false") or (c.op == "!=" and c.value == "true")):
            cond = cond | ~has.exists()
        return cond

    def search_registered_models(self, filter_string, max_results, order_by, page_token):
        comparisons = parse_registered_model_filter(filter_string)
        orders = parse_registered_model_order_by(order_by)
        offset = page_offset(page_token)
        query = select(RM)
        for c in comparisons:
            if c.entity == TAG:
                query = query.where(self._tag_condition(RMT, RMT.c.model_id == RM.c.id, c))
            else:
                query = query.where(self._compare(RM.c.name, c.op, c.value))
        columns = {"name": RM.c.name, "last_updated_timestamp": RM.c.last_updated_time}
        ordering = [columns[o.key].asc() if o.ascending else columns[o.key].desc() for o in orders]
        if not any(o.key == "name" for o in orders):
            ordering.append(RM.c.name.asc())
        query = query.order_by(*ordering).offset(offset).limit(max_results + 1)
        with self.read() as conn:
            rows = conn.execute(query).all()
            has_more = len(rows) > max_results
            models = self._load_models(conn, rows[:max_results])
        return PagedList(models, encode_offset(offset + max_results) if has_more else None)

    def get_latest_versions(self, name, stages):
        with self.read() as conn:
            rm = self._rm_row(conn, name)
            latest = (
                select(MV.c.current_stage, func.max(MV.c.version).label("v"))
                .where(MV.c.model_id == rm.id)
                .group_by(MV.c.current_stage)
                .subquery()
            )
            query = select(MV).join(latest, and_(MV.c.current_stage == latest.c.current_stage, MV.c.version == latest.c.v)).where(
                MV.c.model_id == rm.id
            )
            if stages:
                query = query.where(func.lower(MV.c.current_stage).in_([s.lower() for s in stages]))
            rows = conn.execute(query.order_by(MV.c.version)).all()
            return self._load_versions(conn, rows, {rm.id: rm.name})

    # -- aliases ------------------------------------------------------------------------------------
    def set_registered_model_alias(self, name, alias, version):
        with self.write() as conn:
            rm = self._rm_row(conn, name)
            mv = self._mv_row(conn, rm, version)
            conn.execute(delete(RMA).where(RMA.c.model_id == rm.id, RMA.c.alias == alias))
            conn.execute(insert_ignore(RMA, self.dialect).values(model_id=rm.id, alias=alias, version=mv.version))
            self._touch_registered_model(conn, rm.id)

    def delete_registered_model_alias(self, name, alias):
        with self.write() as conn:
            rm = self._rm_row(conn, name)
            conn.execute(delete(RMA).where(RMA.c.model_id == rm.id, RMA.c.alias == alias))
            self._touch_registered_model(conn, rm.id)

    def get_model_version_by_alias(self, name, alias):
        with self.read() as conn:
            rm = self._rm_row(conn, name)
            version = conn.execute(
                select(RMA.c.version).where(RMA.c.model_id == rm.id, RMA.c.alias == alias)
            ).scalar()
            if version is None and alias.lower() == "latest":
                version = conn.execute(select(func.max(MV.c.version)).where(MV.c.model_id == rm.id)).scalar()
                if version is None:
                    raise not_found(f"Latest version not found for model {name}.")
            if version is None:
                raise invalid(f"Registered model alias {alias} not found.")
            return self._version(conn, rm, version)

    # -- model versions -------------------------------------------------------------------------------
    def create_model_version(self, name, source, run_id, tags, run_link, description, model_id,
                             storage_location, status, user_id=None):
        ts = now_ms()
        with self.write() as conn:
            rm = self._rm_row(conn, name, for_update=True)
            number = rm.last_version + 1
            conn.execute(update(RM).where(RM.c.id == rm.id).values(last_version=number, last_updated_time=ts))
            vid = conn.execute(
                MV.insert().values(
                    model_id=rm.id, version=number, creation_time=ts, last_updated_time=ts, description=description,
                    user_id=user_id, current_stage=STAGE_NONE, source=source, run_id=run_id, run_link=run_link,
                    status=status, status_message=None, logged_model_id=model_id, storage_location=storage_location,
                )
            ).inserted_primary_key[0]
            if tags:
                conn.execute(MVT.insert(), [{"version_id": vid, "key": k, "value": v} for k, v in tags.items()])
            return self._version(conn, rm, number)

    def get_model_version(self, name, version):
        with self.read() as conn:
            return self._version(conn, self._rm_row(conn, name), version)

    def update_model_version(self, name, version, description):
        with self.write() as conn:
            rm = self._rm_row(conn, name)
            mv = self._mv_row(conn, rm, version)
            conn.execute(update(MV).where(MV.c.id == mv.id).values(description=description, last_updated_time=now_ms()))
            return self._version(conn, rm, version)

    def transition_model_version_stage(self, name, version, stage, archive_existing_versions):
        ts = now_ms()
        with self.write() as conn:
            rm = self._rm_row(conn, name)
            mv = self._mv_row(conn, rm, version)
            if archive_existing_versions and stage in ("Staging", "Production"):
                conn.execute(
                    update(MV)
                    .where(MV.c.model_id == rm.id, MV.c.id != mv.id, MV.c.current_stage == stage)
                    .values(current_stage=STAGE_ARCHIVED, last_updated_time=ts)
                )
            conn.execute(update(MV).where(MV.c.id == mv.id).values(current_stage=stage, last_updated_time=ts))
            self._touch_registered_model(conn, rm.id, ts)
            return self._version(conn, rm, version)

    def delete_model_version(self, name, version):
        with self.write() as conn:
            rm = self._rm_row(conn, name)
            mv = self._mv_row(conn, rm, version)
            conn.execute(delete(RMA).where(RMA.c.model_id == rm.id, RMA.c.version == mv.version))
            conn.execute(delete(MVT).where(MVT.c.version_id == mv.id))
            conn.execute(delete(MV).where(MV.c.id == mv.id))
            self._touch_registered_model(conn, rm.id)

    def get_model_version_download_uri(self, name, version):
        with self.read() as conn:
            return self._mv_row(conn, self._rm_row(conn, name), version).storage_location

    def set_model_version_tag(self, name, version, key, value):
        with self.write() as conn:
            rm = self._rm_row(conn, name)
            mv = self._mv_row(conn, rm, version)
            conn.execute(delete(MVT).where(MVT.c.version_id == mv.id, MVT.c.key == key))
            conn.execute(insert_ignore(MVT, self.dialect).values(version_id=mv.id, key=key, value=value))

    def delete_model_version_tag(self, name, version, key):
        with self.write() as conn:
            rm = self._rm_row(conn, name)
            mv = self._mv_row(conn, rm, version)
            conn.execute(delete(MVT).where(MVT.c.version_id == mv.id, MVT.c.key == key))

    def search_model_versions(self, filter_string, max_results, order_by, page_token):
        comparisons = parse_model_version_filter(filter_string)
        orders = parse_model_version_order_by(order_by or ["last_updated_timestamp DESC", "name ASC", "version_number DESC"])
        offset = page_offset(page_token)
        query = select(MV, RM.c.name).join(RM, RM.c.id == MV.c.model_id)
        for c in comparisons:
            if c.entity == TAG:
                query = query.where(self._tag_condition(MVT, MVT.c.version_id == MV.c.id, c))
                continue
            column = {"name": RM.c.name, "version_number": MV.c.version, "run_id": MV.c.run_id,
                      "source_path": MV.c.source}[c.key]
            value = c.value
            if c.key == "version_number":
                value = float(value)
            query = query.where(self._compare(column, c.op, value))
        columns = {"name": RM.c.name, "version_number": MV.c.version, "creation_timestamp": MV.c.creation_time,
                   "last_updated_timestamp": MV.c.last_updated_time}
        ordering = [columns[o.key].asc() if o.ascending else columns[o.key].desc() for o in orders]
        keys = {o.key for o in orders}
        if "name" not in keys:
            ordering.append(RM.c.name.asc())
        if "version_number" not in keys:
            ordering.append(MV.c.version.desc())
        query = query.order_by(*ordering).offset(offset).limit(max_results + 1)
        with self.read() as conn:
            rows = conn.execute(query).all()
            has_more = len(rows) > max_results
            rows = rows[:max_results]
            names = {r.model_id: r.name for r in rows}
            versions = self._load_versions(conn, rows, names)
        return PagedList(versions, encode_offset(offset + max_results) if has_more else None)

    def versions_of_logged_model(self, conn: Connection, model_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
        """(registered model name, version) pairs registered from each logged model."""
        out: dict[str, list[tuple[str, str]]] = {}
        for part in chunks(model_ids):
            for mid, name, version in conn.execute(
                select(MV.c.logged_model_id, RM.c.name, MV.c.version)
                .join(RM, RM.c.id == MV.c.model_id)
                .where(MV.c.logged_model_id.in_(part))
                .order_by(RM.c.name, MV.c.version)
            ):
                out.setdefault(mid, []).append((name, str(version)))
        return out

