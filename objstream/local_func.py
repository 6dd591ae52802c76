"""fdk's entry on a workstation: the function's own handler, with objects read from a folder.

    fdk objstream/local_func.py handler        (`objstream serve` and the demo, when
                                               LOCAL_OBJECTS_DIR is set)

Everything but the reader is the production wiring (`Runtime.for_oci`): the same settings,
pipeline, token source and producer. The object `<name>` of bucket `<bucket>` in namespace
`<namespace>` is the file `$LOCAL_OBJECTS_DIR/<namespace>/<bucket>/<name>`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from function import func
from function.errors import ConfigError
from function.runtime import Runtime
from objstream.local_objects import LOCAL_OBJECTS_DIR, LocalObjectReader, local_objects_dir

if TYPE_CHECKING:
    from function.settings import Settings


def _local_runtime(settings: Settings) -> Runtime:
    folder = local_objects_dir(os.environ)
    if folder is None:
        raise ConfigError(f"{LOCAL_OBJECTS_DIR} is required to serve objstream.local_func")
    return Runtime.for_oci(settings, reader=LocalObjectReader(folder))


func.build_runtime_with(_local_runtime)
handler = func.handler
