"""Render a private 3D scene into IEXEC_OUT/render.png (iExec app interface).

The scene is a JSON file (see scene.json): a camera, point lights, spheres and planes. It is
read from the task's dataset (``$IEXEC_IN/$IEXEC_DATASET_FILENAME``), which is the scene itself,
a folder holding it (``tee/inputs``, sealed by ``sealrun tee encryptedpush``, arrives as one
ZIP, as on iExec) or a tar archive holding it, or else from the first input file. Arguments: ``--width W
--height H`` override the scene's size. Pure Python: a Whitted ray tracer with hard shadows,
one bounce of reflection, checkered planes and a sky gradient; the PNG is written with zlib.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import sys
import tarfile
import time
import zipfile
import zlib

Vec = tuple[float, float, float]
EPS = 1e-4


def sub(a: Vec, b: Vec) -> Vec:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def add(a: Vec, b: Vec) -> Vec:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def mul(a: Vec, k: float) -> Vec:
    return (a[0] * k, a[1] * k, a[2] * k)


def dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def cross(a: Vec, b: Vec) -> Vec:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def norm(a: Vec) -> Vec:
    length = math.sqrt(dot(a, a)) or 1.0
    return (a[0] / length, a[1] / length, a[2] / length)


class Sphere:
    def __init__(self, spec: dict) -> None:
        self.center = tuple(spec["center"])
        self.radius = float(spec["radius"])
        self.color = tuple(spec.get("color", (0.8, 0.8, 0.8)))
        self.reflect = float(spec.get("reflect", 0.0))

    def hit(self, origin: Vec, direction: Vec) -> float | None:
        oc = sub(origin, self.center)
        b = dot(oc, direction)
        c = dot(oc, oc) - self.radius * self.radius
        disc = b * b - c
        if disc < 0:
            return None
        root = math.sqrt(disc)
        for t in (-b - root, -b + root):
            if t > EPS:
                return t
        return None

    def normal(self, point: Vec) -> Vec:
        return norm(sub(point, self.center))

    def color_at(self, _point: Vec) -> Vec:
        return self.color


class Plane:
    def __init__(self, spec: dict) -> None:
        self.point = tuple(spec["point"])
        self.n = norm(tuple(spec["normal"]))
        self.color = tuple(spec.get("color", (0.9, 0.9, 0.9)))
        self.color2 = tuple(spec.get("checker", self.color))
        self.reflect = float(spec.get("reflect", 0.0))

    def hit(self, origin: Vec, direction: Vec) -> float | None:
        denom = dot(direction, self.n)
        if abs(denom) < 1e-9:
            return None
        t = dot(sub(self.point, origin), self.n) / denom
        return t if t > EPS else None

    def normal(self, _point: Vec) -> Vec:
        return self.n

    def color_at(self, point: Vec) -> Vec:
        if (math.floor(point[0]) + math.floor(point[2])) % 2 == 0:
            return self.color
        return self.color2


def load_scene() -> dict:
    folder = os.environ.get("IEXEC_IN", ".")
    name = os.environ.get("IEXEC_DATASET_FILENAME") or os.environ.get("IEXEC_INPUT_FILE_NAME_1")
    if not name:
        raise SystemExit("no scene: give a dataset (scene.json or a tar holding it) or an input file")
    path = os.path.join(folder, name)
    if zipfile.is_zipfile(path):  # a sealed folder (tee/inputs) arrives as one ZIP, as on iExec
        with zipfile.ZipFile(path) as archive:
            scenes = sorted(n for n in archive.namelist() if n.endswith(".json"))
            if not scenes:
                raise SystemExit(f"{name} holds no .json scene")
            return json.loads(archive.read(scenes[0]))
    with open(path, "rb") as handle:
        raw = handle.read()
    if tarfile.is_tarfile(io.BytesIO(raw)):
        with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
            members = [m for m in archive.getmembers() if m.isfile() and m.name.endswith(".json")]
            if not members:
                raise SystemExit(f"{name} holds no .json scene")
            extracted = archive.extractfile(members[0])
            assert extracted is not None
            raw = extracted.read()
    return json.loads(raw)


def trace(scene: dict, objects: list, origin: Vec, direction: Vec, depth: int) -> Vec:
    nearest, target = math.inf, None
    for obj in objects:
        t = obj.hit(origin, direction)
        if t is not None and t < nearest:
            nearest, target = t, obj
    if target is None:
        sky = 0.5 * (direction[1] + 1.0)
        top, bottom = scene.get("sky", [(0.45, 0.65, 1.0), (1.0, 1.0, 1.0)])
        return add(mul(tuple(bottom), 1.0 - sky), mul(tuple(top), sky))
    point = add(origin, mul(direction, nearest))
    n = target.normal(point)
    base = target.color_at(point)
    light_sum = float(scene.get("ambient", 0.12))
    for light in scene["lights"]:
        to_light = sub(tuple(light["position"]), point)
        distance = math.sqrt(dot(to_light, to_light))
        ldir = mul(to_light, 1.0 / distance)
        lambert = dot(n, ldir)
        if lambert <= 0:
            continue
        shadow_origin = add(point, mul(n, EPS * 10))
        if any((t := o.hit(shadow_origin, ldir)) is not None and t < distance for o in objects):
            continue
        light_sum += lambert * float(light.get("intensity", 1.0))
    color = mul(base, min(light_sum, 1.5))
    if target.reflect > 0 and depth > 0:
        bounce = sub(direction, mul(n, 2 * dot(direction, n)))
        mirrored = trace(scene, objects, add(point, mul(n, EPS * 10)), norm(bounce), depth - 1)
        color = add(mul(color, 1 - target.reflect), mul(mirrored, target.reflect))
    return color


def render(scene: dict, width: int, height: int) -> bytes:
    objects = [Sphere(o) if o["type"] == "sphere" else Plane(o) for o in scene["objects"]]
    camera = scene["camera"]
    eye = tuple(camera["position"])
    forward = norm(sub(tuple(camera["look_at"]), eye))
    right = norm(cross((0.0, 1.0, 0.0), forward))
    up = cross(forward, right)
    scale = math.tan(math.radians(float(camera.get("fov", 60))) / 2)
    aspect = width / height
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # PNG filter type "none"
        py = (1 - 2 * (y + 0.5) / height) * scale
        for x in range(width):
            px = (2 * (x + 0.5) / width - 1) * scale * aspect
            direction = norm(add(add(forward, mul(right, px)), mul(up, py)))
            r, g, b = trace(scene, objects, eye, direction, int(scene.get("bounces", 1)))
            rows += bytes(max(0, min(255, int(255 * math.sqrt(max(c, 0.0))))) for c in (r, g, b))
    return png(width, height, bytes(rows))


def png(width: int, height: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main(argv: list[str]) -> int:
    scene = load_scene()
    width, height = int(scene.get("width", 160)), int(scene.get("height", 120))
    if "--width" in argv:
        width = int(argv[argv.index("--width") + 1])
    if "--height" in argv:
        height = int(argv[argv.index("--height") + 1])
    if not (8 <= width <= 4096 and 8 <= height <= 4096):
        raise SystemExit("width and height must be between 8 and 4096")
    begun = time.monotonic()
    image = render(scene, width, height)
    out = os.environ.get("IEXEC_OUT", "out")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "render.png"), "wb") as handle:
        handle.write(image)
    with open(os.path.join(out, "computed.json"), "w") as handle:
        json.dump({"deterministic-output-path": os.path.join(out, "render.png")}, handle)
    print(
        f"rendered {width}x{height} with {len(scene['objects'])} objects in {time.monotonic() - begun:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
