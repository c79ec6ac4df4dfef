"""Swan's Python client and the `swan` command line.

    import swan_client
    with swan_client.init(project="demo", config={"lr": 0.01}) as run:
        run.log({"loss": 0.5}, step=1)

`swan_client.api.Client` is the programmatic client of the native API (`/api/v1`)."""

__version__ = "0.1.0"

from swan_client.media import Audio, Image, Table, Text  # noqa: E402
from swan_client.run import FinishResult, Run, current_run, finish, init, log  # noqa: E402

__all__ = ["init", "log", "finish", "current_run", "Run", "FinishResult", "Image", "Audio", "Text", "Table",
           "__version__"]
