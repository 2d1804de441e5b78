"""Make a small private scene: ``blender -b --factory-startup --python make_scene.py -- OUT.blend``.

Blender's default cube, tinted, on a plane, with the default camera and light; saved to OUT.
"""

import os
import sys

import bpy

target = os.path.abspath(sys.argv[sys.argv.index("--") + 1])
bpy.ops.mesh.primitive_plane_add(size=8, location=(0, 0, -1))
cube = bpy.data.objects["Cube"]
material = bpy.data.materials.new("secret-red")
material.use_nodes = True
material.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (0.8, 0.1, 0.1, 1.0)
cube.data.materials.append(material)
bpy.ops.wm.save_as_mainfile(filepath=target)
