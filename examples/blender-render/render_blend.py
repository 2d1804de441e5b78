"""Render frame 1 of a private .blend into IEXEC_OUT/render.png with ``blender -b``.

The .blend comes from the task's dataset: the file itself, a folder holding it
(``tee/inputs`` sealed by ``sealrun tee encryptedpush`` arrives as one ZIP) or a tar archive
holding one. Arguments: ``--width W
--height H --samples N`` (defaults 320x240, 8 Cycles samples: enough to see the scene,
quick on a CPU). Blender runs with the Cycles CPU renderer, no add-ons, no network, and
HOME in the sandbox's private /tmp.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

SETTINGS = """
import bpy, sys
args = sys.argv[sys.argv.index("--") + 1:]
scene = bpy.context.scene
scene.render.engine = "CYCLES"
scene.cycles.device = "CPU"
scene.cycles.samples = int(args[2])
scene.cycles.use_denoising = False  # Debian's build has no OpenImageDenoise
for layer in scene.view_layers:
    layer.cycles.use_denoising = False
scene.render.resolution_x = int(args[0])
scene.render.resolution_y = int(args[1])
scene.render.resolution_percentage = 100
scene.render.image_settings.file_format = "PNG"
"""


def option(argv: list[str], name: str, default: int) -> int:
    return int(argv[argv.index(name) + 1]) if name in argv else default


def find_blend(work: str) -> str:
    folder = os.environ.get("IEXEC_IN", ".")
    name = os.environ.get("IEXEC_DATASET_FILENAME") or os.environ.get("IEXEC_INPUT_FILE_NAME_1")
    if not name:
        raise SystemExit("no scene: give a dataset (a .blend or a tar holding one)")
    path = os.path.join(folder, name)
    if zipfile.is_zipfile(path):  # a sealed folder (tee/inputs) arrives as one ZIP, as on iExec
        with zipfile.ZipFile(path) as archive:
            for member in sorted(archive.namelist()):
                if member.endswith(".blend"):
                    target = os.path.join(work, "scene.blend")
                    with archive.open(member) as source, open(target, "wb") as out:
                        shutil.copyfileobj(source, out)
                    return target
        raise SystemExit(f"{name} holds no .blend file")
    with open(path, "rb") as handle:
        head = handle.read(7)
    if head == b"BLENDER":
        return path
    with open(path, "rb") as handle:
        raw = handle.read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
        for member in archive.getmembers():
            if member.isfile() and member.name.endswith(".blend"):
                extracted = archive.extractfile(member)
                assert extracted is not None
                target = os.path.join(work, "scene.blend")
                with open(target, "wb") as out:
                    shutil.copyfileobj(extracted, out)
                return target
    raise SystemExit(f"{name} is neither a .blend nor a tar holding one")


def main(argv: list[str]) -> int:
    blender = shutil.which("blender")
    if blender is None:
        raise SystemExit("blender is not installed on this worker (Debian package `blender`)")
    work = os.environ.get("TMPDIR", "/tmp")  # noqa: S108 (the sandbox's private tmpfs)
    blend = find_blend(work)
    out = os.environ["IEXEC_OUT"]
    width, height, samples = (
        option(argv, "--width", 320),
        option(argv, "--height", 240),
        option(argv, "--samples", 8),
    )
    command = [
        blender,
        "-b",
        blend,
        "--factory-startup",
        "-noaudio",
        "--python-expr",
        SETTINGS,
        "-o",
        os.path.join(work, "frame_#"),
        "-F",
        "PNG",
        "-f",
        "1",
        "--",
        str(width),
        str(height),
        str(samples),
    ]
    env = {**os.environ, "HOME": work}
    # Debian resolves libblas/liblapack through /etc/alternatives, which the sandbox does not
    # have: point the loader at the reference implementations under /usr directly.
    arch = "/usr/lib/x86_64-linux-gnu"
    extra = [f"{arch}/{name}" for name in ("blas", "lapack") if os.path.isdir(f"{arch}/{name}")]
    if extra:
        env["LD_LIBRARY_PATH"] = ":".join([*extra, env.get("LD_LIBRARY_PATH", "")]).rstrip(":")
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    sys.stdout.write(done.stdout.decode("utf-8", "replace")[-4000:])
    frame = os.path.join(work, "frame_1.png")
    if done.returncode != 0 or not os.path.isfile(frame):
        print(f"blender exited {done.returncode} without a frame", file=sys.stderr)
        return 2
    shutil.move(frame, os.path.join(out, "render.png"))
    with open(os.path.join(out, "computed.json"), "w") as handle:
        json.dump({"deterministic-output-path": os.path.join(out, "render.png")}, handle)
    print(f"rendered {width}x{height} ({samples} samples)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
