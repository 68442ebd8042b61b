#!/usr/bin/python
# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleetbench.mlperf.path_digests: stat-based digests of files and trees, compared with expected ones.

The logic lives in ``plugins/module_utils/_run_stamp.py`` (:func:`compare_digests`, stdlib only); this
file holds the documentation and the argument spec.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: path_digests
short_description: Stat-based digests of files, trees and directory listings, compared with expected ones
version_added: "0.1.0"
description:
  - Computes, without reading file contents, one sha256 per entry of O(paths) - for a file its size and
    mtime (ns, symlinks followed); for a directory every entry below it (relative name, size and mtime
    of files, symlink targets) - and one per entry of O(names_only) (the sorted entry names of a
    directory). Entries may be C(glob) patterns; several matches are digested together.
  - With O(expected) it also lists the keys whose digest differs, so one module run tells whether a
    set of files is as it was. The action C(fleetbench.mlperf.run_stamp) uses it to check that a SUT
    is unchanged since its last complete run.
  - Reads only; never changes the host. Stdlib only.
author: fleetbench.mlperf developers
extends_documentation_fragment:
  - fleetbench.mlperf.attributes
  - fleetbench.mlperf.path_digests
options:
  expected:
    description: Digests from an earlier run (same keys); RV(mismatched) lists those that differ.
    type: dict
  checksums:
    description:
      - Files whose content sha1 is returned in RV(checksums), the digest of C(ansible.builtin.stat) with
        C(checksum_algorithm=sha1); several marker files are read in one module run.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Digest a venv's site-packages listing and a results tree
  fleetbench.mlperf.path_digests:
    paths:
      - /opt/fb/results/test_results/sut1
    names_only:
      - /opt/fb/venvs/onnxruntime-cpu/lib/python*/site-packages
  register: before

- name: Later - has anything changed?
  fleetbench.mlperf.path_digests:
    paths:
      - /opt/fb/results/test_results/sut1
    names_only:
      - /opt/fb/venvs/onnxruntime-cpu/lib/python*/site-packages
    expected: "{{ before.digests }}"
  register: after
"""

RETURN = r"""
digests:
  description: One sha256 hex digest per key (C(tree:<entry>), C(names:<entry>)); null when none matched.
  returned: always
  type: dict
  sample:
    "tree:/opt/fb/results/test_results/sut1": "3f1c..."
    "names:/opt/fb/venv/lib/python*/site-packages": null
mismatched:
  description: Keys whose digest differs from O(expected) (a key missing on either side counts); else empty.
  returned: always
  type: list
  elements: str
unchanged:
  description: True when O(expected) was given and nothing differs.
  returned: always
  type: bool
checksums:
  description: Content sha1 hex of each O(checksums) file; null when it is not a regular file.
  returned: always
  type: dict
  sample:
    /opt/fb/venvs/onnxruntime-cpu/fleetbench-requirements.txt: 0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetbench.mlperf.plugins.module_utils import _run_stamp

ARGUMENT_SPEC = {
    "paths": {"type": "list", "elements": "str", "default": []},
    "names_only": {"type": "list", "elements": "str", "default": []},
    "expected": {"type": "dict"},
    "checksums": {"type": "list", "elements": "str", "default": []},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    module.exit_json(**_run_stamp.compare_digests(p["paths"], p["names_only"], p["expected"], p["checksums"]))


if __name__ == "__main__":
    main()
