# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attribute descriptions every module of the collection shares (``extends_documentation_fragment:
fleetbench.mlperf.attributes``); a module states only each attribute's ``support`` (and a description
of its own where check mode does something particular)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check mode and return what would change without changing the target.
  diff_mode:
    description: Returns details on what changed (or would change in check mode) in diff mode.
  platform:
    description: Target operating systems it runs against.
    support: full
    platforms: posix
"""
