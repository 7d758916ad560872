# A stand-in for UnrealEditor-Cmd (the tests prepend a shebang and make it executable).
# It parses the command line exactly as the launcher builds it, puts the *installed* plugin's
# Content/Python and vendored site-packages on sys.path (as the editor does), and behaves as
# FAKE_EDITOR_MODE says: ok, dim (linear, peaking below 1.0), crash, crash_once, hang,
# tonemapped, nonfinite, missing_asset, mrq_fail, plan_error. With depth/normal in the plan's
# passes it also writes MRQ's material passes as MRQ names them: ``{render_pass}/{frame_number}``
# with the pass names of the plugin's job_settings (FinalImage / PathTracer + material name).
# Frames are written where MRQ writes them and moved into the layout by the plugin's real
# writer module. ``--selftest`` renders the calibration scene (synthetic, from
# tests/helpers/selftest_frames.py under $FAKE_EDITOR_REPO) and writes calibration.json.
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

mode = os.environ.get("FAKE_EDITOR_MODE", "ok")
state = Path(os.environ.get("FAKE_EDITOR_STATE", "/nonexistent"))
print("LogInit: Display: fake UnrealEditor-Cmd starting", flush=True)
args = sys.argv[1:]
project = Path(args[0])
script_arg = next((a for a in args if a.startswith("-ExecutePythonScript=")), None)
for flag in ("-unattended", "-RenderOffscreen", "-stdout"):
    if flag not in args:
        print(f"fake editor: missing {flag}", flush=True)
        sys.exit(64)
if not project.is_file() or script_arg is None:
    print("fake editor: bad command line", flush=True)
    sys.exit(64)
script, *rest = shlex.split(script_arg.split("=", 1)[1])
if not rest:  # arguments in the job file (paths with spaces), as the plugin reads them
    job = json.loads(Path(os.environ["S2RHDR_JOB"]).read_text())
    rest = [x for k, v in job.items() for x in ([f"--{k}"] if v is True else [f"--{k}", v])]
opts: dict = {}
tokens = iter(rest)
for token in tokens:
    opts[token] = True if token == "--selftest" else next(tokens)
content = Path(script).parents[1]
sys.path[:0] = [str(content), str(content / "Lib" / "site-packages")]
from s2rhdr_unreal import job_settings, writer  # noqa: E402

from pipeline import unreal_calibration as cal  # noqa: E402  (the vendored copy)
from pipeline.plan_model import load_plan  # noqa: E402

selftest = bool(opts.get("--selftest"))
plan = cal.calibration_plan() if selftest else load_plan(opts["--plan"])
names = job_settings.mrq_settings(plan, opts.get("--quality", "default"))["pass_names"]
out, status = Path(opts["--out"]), Path(opts["--status"])
print(f"LogPython: S2RHDR_INFO engine fake, shot {plan.name}", flush=True)

attempt = int(state.read_text()) + 1 if state.is_file() else 1
if state.parent.is_dir():
    state.write_text(str(attempt))

if mode == "crash" or (mode == "crash_once" and attempt == 1):
    print(f"LogPython: S2RHDR_PROGRESS 1/{plan.frames}", flush=True)  # then dies mid-render
    print("LogCore: Error: Fatal error: [File:Unknown] Unhandled Exception: SIGSEGV", flush=True)
    sys.exit(139)
if mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    Path(os.environ["FAKE_EDITOR_CHILD"]).write_text(str(child.pid))
    print(f"LogPython: S2RHDR_PROGRESS 0/{plan.frames}", flush=True)
    time.sleep(120)
if mode == "missing_asset":
    print("LogPython: Error: S2RHDR_MISSING_ASSET /Game/Cars/SM_Sedan", flush=True)
    writer.write_status(status, ok=False, error="missing Unreal assets: /Game/Cars/SM_Sedan",
                        missing_assets=["/Game/Cars/SM_Sedan"])
    sys.exit(4)
if mode == "plan_error":
    print("LogPython: Error: S2RHDR_ERROR ValueError: plan has no environment.unreal.level",
          flush=True)
    writer.write_status(status, ok=False, error="ValueError: plan has no level")
    sys.exit(5)
if mode == "mrq_fail":
    writer.write_status(status, ok=False, error="Movie Render Queue reported a failed render",
                        retryable=True)
    sys.exit(3)

import numpy as np  # noqa: E402  (host-side test double only; the plugin never does this)
import OpenEXR  # noqa: E402


def write_exr(path, img, channels=None, pixel_type="half"):
    """What MRQ's EXR output does: one scanline file, ZIP, HALF or FLOAT planes."""
    arr = np.asarray(img, np.float16 if pixel_type == "half" else np.float32)
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    names = channels or ("R", "G", "B")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    planes = {n: np.ascontiguousarray(arr[:, :, i]) for i, n in enumerate(names)}
    OpenEXR.File(header, planes).write(str(path))


w, h = plan.render.resolution
ramp = np.linspace(0.01, 40.0, w * h * 3, dtype=np.float32).reshape(h, w, 3)
if mode == "dim":  # an overcast / indoor shot exposed correctly: linear, peak 0.6, the
    # median at 0.15 (mid-grey 0.18 x an overcast albedo mix), 4 stops of scene contrast
    ramp = (0.6 * np.exp2(np.linspace(-4.0, 0.0, w * h * 3))).astype(np.float32).reshape(h, w, 3)
if selftest:
    sys.path.append(os.environ["FAKE_EDITOR_REPO"])
    from tests.helpers.selftest_frames import render as calibration_frames  # noqa: E402

    calibration = calibration_frames(plan)
for i in range(plan.frames):
    img = calibration[i] if selftest else ramp * (1.0 + 0.1 * i)
    if mode == "tonemapped":
        img = img / (1.0 + img)  # Reinhard: everything <= 1.0
    if mode == "nonfinite" and i == 1:
        img[0, 0, 0] = np.inf
    write_exr(out / writer.STAGING / names["img"] / f"{i:04d}.exr", img)
    if "depth" in plan.render.passes:  # MRQ's WorldDepth material: scene depth (z) in cm, RGB
        depth = np.full((h, w, 3), 250.0 + 10.0 * i, np.float32)
        depth[:, 0] = 3.0e8  # the sky: far plane
        write_exr(out / writer.STAGING / names["depth"] / f"{i:04d}.exr", depth,
                  pixel_type="float")
    if "normal" in plan.render.passes:  # WorldNormal: world-space normal, RGB (Unreal axes)
        normal = np.zeros((h, w, 3), np.float32)
        normal[:, 1:] = (0.6 * 1.01, 0.0, 0.8 * 1.01)  # filtered: not exactly unit length
        write_exr(out / writer.STAGING / names["normal"] / f"{i:04d}.exr", normal,
                  pixel_type="float")
    print(f"LogPython: S2RHDR_PROGRESS {i + 1}/{plan.frames}", flush=True)
files = writer.finalize(plan, out, {"engine_version": "fake", "variant": "unreal-fake",
                                    "quality": opts.get("--quality", "default")},
                        pass_names=names)
if selftest:
    files.append(writer.atomic_write_json(out / cal.CALIBRATION_FILE, cal.record(plan)))
writer.write_status(status, ok=True, files=[str(p) for p in files], engine_version="fake")
print(f"LogPython: S2RHDR_DONE {len(files)}", flush=True)
sys.exit(0)
