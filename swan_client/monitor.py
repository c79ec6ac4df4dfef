"""Hardware monitor: CPU, memory, process RSS, disk and network I/O (psutil) and, per GPU,
utilisation, memory, temperature and power (NVML through `pynvml`, package nvidia-ml-py).

Keys live in the `system/` group the SwanLab face uses (SwanLab's `__swanlab__.cpu.pct` is
Swan's `system/cpu.pct`): `system/cpu.pct`, `system/cpu.thds`, `system/mem.pct`,
`system/mem.proc` (process RSS, MB), `system/mem.proc.pct`, `system/mem.proc.avail` (MB),
`system/disk.pct`, `system/disk.read_mb_s`, `system/disk.write_mb_s`, `system/net.recv_mb_s`,
`system/net.sent_mb_s`, and per GPU `system/gpu.<i>.pct`, `system/gpu.<i>.mem.pct`,
`system/gpu.<i>.mem.value` (MB), `system/gpu.<i>.temp` (°C), `system/gpu.<i>.power` (W).

No GPU, no NVML library or any NVML error means no GPU keys, never an exception. The NVML
functions come from an object passed as `nvml=` (any object with pynvml's function names), so a
stand-in can be injected where no GPU is present."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

log = logging.getLogger("swan_client.monitor")
MB = 1024 * 1024


def _load_pynvml():
    try:
        import pynvml  # nvidia-ml-py
    except Exception:
        return None
    return pynvml


class GpuProbe:
    """Reads every GPU through an NVML-like object; silent and empty when it cannot."""

    def __init__(self, nvml=None):
        self.nvml = nvml if nvml is not None else _load_pynvml()
        self.handles: list = []
        if self.nvml is None:
            return
        try:
            self.nvml.nvmlInit()
            count = int(self.nvml.nvmlDeviceGetCount())
            self.handles = [self.nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            log.debug("no GPU metrics: %s", exc)
            self.handles = []

    def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        nv = self.nvml
        for i, h in enumerate(self.handles):
            prefix = f"system/gpu.{i}."
            for name, fn in (
                ("pct", lambda: float(nv.nvmlDeviceGetUtilizationRates(h).gpu)),
                ("mem.pct", lambda: _mem_pct(nv.nvmlDeviceGetMemoryInfo(h))),
                ("mem.value", lambda: float(nv.nvmlDeviceGetMemoryInfo(h).used) / MB),
                ("temp", lambda: float(nv.nvmlDeviceGetTemperature(h, getattr(nv, "NVML_TEMPERATURE_GPU", 0)))),
                ("power", lambda: float(nv.nvmlDeviceGetPowerUsage(h)) / 1000.0),
            ):
                try:
                    out[prefix + name] = fn()
                except Exception:  # a metric this GPU does not report
                    continue
        return out

    def close(self) -> None:
        if self.nvml is not None and self.handles:
            try:
                self.nvml.nvmlShutdown()
            except Exception:
                pass


def _mem_pct(info) -> float:
    return 100.0 * float(info.used) / float(info.total) if info.total else 0.0


class SystemProbe:
    """psutil readings; rates are over the time since the previous reading."""

    def __init__(self, disk_path: str | None = None):
        import psutil

        self.psutil = psutil
        self.proc = psutil.Process(os.getpid())
        self.disk_path = disk_path or os.getcwd()
        psutil.cpu_percent(interval=None)  # the first call only primes the counter
        self._last = (time.monotonic(), self._io())

    def _io(self):
        ps = self.psutil
        try:
            d = ps.disk_io_counters()
        except Exception:
            d = None
        try:
            n = ps.net_io_counters()
        except Exception:
            n = None
        return d, n

    def read(self) -> dict[str, float]:
        ps = self.psutil
        out: dict[str, float] = {}

        def put(key: str, fn: Callable[[], float]):
            try:
                out[key] = float(fn())
            except Exception:
                pass

        vm = ps.virtual_memory()
        put("system/cpu.pct", lambda: ps.cpu_percent(interval=None))
        put("system/cpu.thds", lambda: self.proc.num_threads())
        put("system/mem.pct", lambda: vm.percent)
        put("system/mem.proc", lambda: self.proc.memory_info().rss / MB)
        put("system/mem.proc.pct", lambda: 100.0 * self.proc.memory_info().rss / vm.total)
        put("system/mem.proc.avail", lambda: vm.available / MB)
        put("system/disk.pct", lambda: ps.disk_usage(self.disk_path).percent)
        now, (d, n) = time.monotonic(), self._io()
        then, (d0, n0) = self._last
        dt = max(now - then, 1e-6)
        if d is not None and d0 is not None:
            out["system/disk.read_mb_s"] = max(0.0, (d.read_bytes - d0.read_bytes) / MB / dt)
            out["system/disk.write_mb_s"] = max(0.0, (d.write_bytes - d0.write_bytes) / MB / dt)
        if n is not None and n0 is not None:
            out["system/net.recv_mb_s"] = max(0.0, (n.bytes_recv - n0.bytes_recv) / MB / dt)
            out["system/net.sent_mb_s"] = max(0.0, (n.bytes_sent - n0.bytes_sent) / MB / dt)
        self._last = (now, (d, n))
        return out


class HardwareMonitor:
    """Calls `emit(metrics, tick)` every `interval` seconds from a daemon thread."""

    def __init__(self, emit: Callable[[dict, int], None], interval: float = 10.0, nvml=None, gpu: bool = True):
        self.emit = emit
        self.interval = max(0.05, float(interval))
        self._nvml = nvml
        self._gpu_wanted = gpu
        self.system: SystemProbe | None = None
        self.gpu: GpuProbe | None = None
        self.tick = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> dict[str, float]:
        if self.system is None:
            try:
                self.system = SystemProbe()
            except Exception as exc:
                log.warning("swan: hardware monitor without psutil readings: %s", exc)
                self.system = False  # type: ignore[assignment]
        if self.gpu is None:
            self.gpu = GpuProbe(self._nvml) if self._gpu_wanted else GpuProbe(object())
        out = {}
        if self.system:
            out.update(self.system.read())
        out.update(self.gpu.read())
        return out

    def start(self) -> "HardwareMonitor":
        self._thread = threading.Thread(target=self._loop, name="swan-monitor", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        self.sample()  # prime rate counters
        while not self._stop.wait(self.interval):
            try:
                values = self.sample()
                if values:
                    self.emit(values, self.tick)
                    self.tick += 1
            except Exception as exc:  # never let monitoring disturb the run
                log.debug("hardware sample failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.gpu:
            self.gpu.close()
