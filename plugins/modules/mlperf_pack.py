#!/usr/bin/python
# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleetbench.mlperf.mlperf_pack: pack a SUT's results tree into one deterministic tar, or unpack it.

The logic lives in ``plugins/module_utils/_pack.py`` (:func:`run`); this file holds the
documentation and the argument spec.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlperf_pack
short_description: Pack a results tree into one deterministic tar (SUT) or unpack it (controller)
version_added: 0.2.0
description:
  - "O(state=packed) (on the SUT, stdlib only): builds a tar of every regular, non-hidden file below
    O(path) (plus O(extra_files)) with members sorted by name, mtime 0, uid/gid 0, no owner names and
    mode 0644, so the archive and its sha256 depend on the relative paths and contents only."
  - When that sha256 equals O(known_checksum) (the controller's last unpacked copy), nothing is
    written and RV(ignore:changed) is false - an unchanged tree costs one module run and no transfer.
    Otherwise the archive is written to O(dest).
  - "O(state=unpacked) (on the controller, C(delegate_to: localhost)): checks the archive against
    O(checksum), writes each member below O(dest) whose content differs (files not in the archive are
    kept) and records the archive's sha256 and member names in C(<dest>/.fleetbench-pack.json)."
  - Used by the C(fleetbench.mlperf.results) role's C(fetch) entry point.
extends_documentation_fragment:
  - fleetbench.mlperf.attributes
options:
  state:
    description: V(packed) builds the archive, V(unpacked) extracts it.
    type: str
    choices: [packed, unpacked]
    default: packed
  path:
    description:
      - V(packed) - the tree to pack (e.g. C(<mlperf_work_dir>/results/test_results/<sut>)).
      - V(unpacked) - the archive to extract.
    type: path
    required: true
  dest:
    description:
      - V(packed) - where to write the archive when it changed; without it only the checksum is computed.
      - V(unpacked) - the directory to extract into.
    type: path
  extra_files:
    description:
      - "V(packed) only - C({archive name: path}) added when the file exists (replacing a tree file of
        that name)."
    type: dict
    default: {}
  known_checksum:
    description: V(packed) only - sha256 of the copy the controller already has; empty for none.
    type: str
    default: ""
  checksum:
    description: V(unpacked) only - expected sha256 of the archive (RV(checksum) of the pack).
    type: str
  require_files:
    description:
      - V(packed) only - fail when the tree (without O(extra_files)) holds no file.
      - In check mode a note instead (RV(ignore:changed) true), since the benchmark would fill the tree.
    type: bool
    default: true
author: fleetbench.mlperf developers
attributes:
  check_mode:
    support: full
    description: Computes the checksum (packed) or the files that would be written (unpacked); writes nothing.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Pack this SUT's results unless the controller has them already
  fleetbench.mlperf.mlperf_pack:
    path: /home/bench/fleetbench_mlperf/results/test_results/sut-a
    dest: /home/bench/fleetbench_mlperf/.results-pack.tar
    extra_files:
      system_desc_draft.json: /home/bench/fleetbench_mlperf/system_desc_draft.json
    known_checksum: "{{ previous_checksum }}"
  register: packed

- name: Unpack the fetched archive on the controller
  fleetbench.mlperf.mlperf_pack:
    state: unpacked
    path: /srv/results/.fleetbench-pack/sut-a.tar
    dest: /srv/results/test_results/sut-a
    checksum: "{{ packed['checksum'] }}"
  delegate_to: localhost
"""

RETURN = r"""
checksum:
  description: sha256 of the archive.
  returned: success
  type: str
  sample: 3f1c0d6e5b8a...
files:
  description: Number of files in the tree (packed, without O(extra_files)) or in the archive (unpacked).
  returned: success
  type: int
  sample: 12
archive:
  description: V(packed) - path of the archive written, null when nothing was written.
  returned: success
  type: str
  sample: /home/bench/fleetbench_mlperf/.results-pack.tar
written:
  description: V(unpacked) - member names written (new or changed content).
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _pack
from ansible_collections.fleetbench.mlperf.plugins.module_utils._module import ModuleFailure

ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["packed", "unpacked"], "default": "packed"},
    "path": {"type": "path", "required": True},
    "dest": {"type": "path"},
    "extra_files": {"type": "dict", "default": {}},
    "known_checksum": {"type": "str", "default": ""},
    "checksum": {"type": "str"},
    "require_files": {"type": "bool", "default": True},
}
REQUIRED_IF = [("state", "unpacked", ["dest"])]


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF, supports_check_mode=True)
    try:
        result = _pack.run(module)
    except ModuleFailure as exc:
        module.fail_json(msg=exc.msg, **exc.fields)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
