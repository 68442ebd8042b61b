# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SUT files whose stat-based digests tell whether a host is unchanged: options of the
``path_digests`` module and of the ``run_stamp`` action that records and checks them
(``extends_documentation_fragment: fleetbench.mlperf.path_digests``)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  paths:
    description:
      - Files or directories (or C(glob) patterns) on the SUT whose digest (size and mtime of every file,
        no content read) is taken; keys C(tree:<entry>).
    type: list
    elements: str
    default: []
  names_only:
    description:
      - Directories (or C(glob) patterns) on the SUT whose sorted entry names alone are digested (a venv's
        C(site-packages)); keys C(names:<entry>).
    type: list
    elements: str
    default: []
"""
