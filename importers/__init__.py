"""Importers that migrate TensorBoard, W&B, MLflow and SwanLab histories into Swan.

    swan import tensorboard LOGDIR        [--project P] [--workspace W] [--dry-run] [--json]
    swan import wandb ./wandb | run-DIR | ENTITY/PROJECT[/RUN_ID]
    swan import mlflow ./mlruns | sqlite:///mlflow.db | postgresql://... | http://mlflow:5000 [--experiment E]
    swan import swanlab ./swanlog | run-DIR
    (all take --tracking-uri URL and --api-key KEY, or SWAN_TRACKING_URI / SWAN_API_KEY / `swan login`)

Layout: one module per source (`tensorboard.py` with the `tfrecord.py` reader, `wandb.py`,
`mlflow.py`, `swanlab.py`; W&B and SwanLab share the `leveldb.py` log reader) reads the source into
the neutral records of `records.py`; `writer.py` writes them through `swan_client.api.Client` in
large idempotent batches; `cli.py` adds the commands to `swan import`; `progress.py` draws the
progress bar and the closing summary (runs, points, media, console lines, artifacts, params, and
everything skipped with the reason).

Idempotency: each run carries its source identity in the tag `swan.import.source`
(`tensorboard:<folder>`, `wandb:<entity/project/run id>`, `mlflow:<tracking uri>/<run id>`,
`swanlab:<project>/<run id>`) and, once complete, the source's fingerprint in
`swan.import.fingerprint`. A second import of an unchanged source reads nothing and writes nothing;
an interrupted import resumes (batches carry idempotency keys derived from the source identity,
fingerprint and chunk number).

Histograms are kept as histogram data: media items under `media/histogram/<key>/...json` with a
JSON payload (`edges`, `counts`, and the source's own fields), of kind `histogram` when the server
lists that media kind and `file` until then.
"""
