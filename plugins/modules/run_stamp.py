# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation stub: the work is done by the action plugin plugins/action/run_stamp.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_stamp
short_description: Tell whether a SUT's last complete run is current, or record that run
version_added: "0.1.0"
description:
  - Action plugin. The stamp is a JSON file on the controller, one per inventory host, written after a
    host's run completed (provisioned, benchmarked, results fetched). A cached re-run uses it to leave
    out a SUT on which it would do nothing, at the cost of one module run on that SUT.
  - "O(state=check) (in the SUT play of C(playbooks/validate.yml)): the host is current when, since the stamp
    was written, (1) the fingerprint of its inputs is the same - the resolved O(request), every variable a
    role of the collection declares in C(meta/argument_specs.yml) plus C(ansible_host), C(ansible_port),
    C(ansible_user), C(ansible_connection), C(ansible_python_interpreter) and C(mlperf_system_packages)
    (raw, untemplated values), the content of the collection's C(roles), C(plugins), C(playbooks) and
    C(files), and an inventory-given C(harness_source) outside the collection; and (2) the controller's copy
    of the results is the one fetched (pack checksum, every file present with its size and mtime); and (3)
    the host did not fail since (O(hosts_file))."
  - That check needs no connection, so a current SUT that is switched off does not stop a resumed run.
    With O(verify_sut) it also (4) digests the SUT files recorded in the stamp
    (M(fleetbench.mlperf.path_digests), one module run) and the host is current only when none changed;
    a SUT that cannot be checked is not current.
  - Never current when O(skip_current) is false or the request has C(rerun=true). The reason is always
    returned.
  - O(state=record) (after a successful fetch) digests O(paths) and O(names_only) on the SUT and writes the
    stamp, unless an identical one is there. Writing it is controller bookkeeping, so the task reports no
    change. Nothing is written in check mode.
  - "Not seen by a stamp: OS packages, drivers and hardware changed on the SUT, and (without O(verify_sut))
    anything changed in its work directory. After such maintenance run with C(-e mlperf_skip_current=false)
    (playbooks) or O(skip_current=false): every step then runs and repairs what is missing."
author: fleetbench.mlperf developers
extends_documentation_fragment:
  - fleetbench.mlperf.attributes
  - fleetbench.mlperf.path_digests
options:
  state:
    description: C(check) compares this host with its stamp; C(record) writes the stamp.
    type: str
    choices: [check, record]
    default: check
  stamp:
    description: Controller path of this host's stamp (C(<output_dir>/.fleetbench-state/<host>.json)).
    type: path
    required: true
  request:
    description: The resolved request (C(mlperf_request)); required with O(state=check).
    type: dict
  skip_current:
    description: With false, O(state=check) never reports the host current.
    type: bool
    default: true
  hosts_file:
    description:
      - O(state=check) - the run record C(<output_dir>/hosts.json) of the C(fleetbench.mlperf.mlperf_hosts)
        callback. A host whose entry there is not C(ok) (it failed or was unreachable since) is not current.
    type: path
  verify_sut:
    description: O(state=check) - also check the SUT files recorded in the stamp (one module run on the SUT).
    type: bool
    default: false
  fingerprint:
    description: RV(fingerprint) of the check of this run; required with O(state=record).
    type: str
  parts:
    description: RV(parts) of the check of this run; required with O(state=record).
    type: dict
  paths:
    description:
      - O(state=record) - the SUT files and trees the results depend on; the stamp keeps their digests
        (M(fleetbench.mlperf.path_digests)) for O(verify_sut).
  names_only:
    description:
      - O(state=record) - SUT directories whose entry names the stamp keeps (a venv's C(site-packages)).
  results_local_root:
    description: Controller directory of this host's fetched results (with the pack marker); O(state=record).
    type: path
  facts:
    description: Facts returned as RV(facts) by a later check that finds the host current (C(mlperf_sut)).
    type: dict
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Is this SUT current?
  fleetbench.mlperf.run_stamp:
    state: check
    stamp: "{{ output_dir }}/.fleetbench-state/{{ inventory_hostname }}.json"
    request: "{{ mlperf_request }}"
  register: stamp_check

- name: Record the complete run
  fleetbench.mlperf.run_stamp:
    state: record
    stamp: "{{ output_dir }}/.fleetbench-state/{{ inventory_hostname }}.json"
    fingerprint: "{{ stamp_check.fingerprint }}"
    parts: "{{ stamp_check.parts }}"
    paths: [/opt/fb/results/test_results/sut1, /opt/fb/venvs/onnxruntime-cpu/pyvenv.cfg]
    names_only: [/opt/fb/venvs/onnxruntime-cpu/lib/python*/site-packages]
    results_local_root: /data/results/test_results/sut1
    facts:
      mlperf_sut: "{{ mlperf_sut }}"
"""

RETURN = r"""
current:
  description: O(state=check) - true when nothing would change on this SUT.
  returned: state=check
  type: bool
reason:
  description: Why the host is current or not (e.g. C(changed since the last complete run - count)).
  returned: always
  type: str
fingerprint:
  description: sha256 of this host's inputs.
  returned: state=check
  type: str
parts:
  description: One sha256 per input (C(request:<field>), C(collection), C(var:<name>), C(harness_source)).
  returned: state=check
  type: dict
recorded:
  description: O(state=check) - when the stamp was written (ISO 8601); O(state=record) - whether it was now.
  returned: when a stamp exists (check), always (record)
  type: raw
facts:
  description: The O(facts) stored with the stamp.
  returned: state=check and current
  type: dict
stamp:
  description: The stamp path.
  returned: state=record
  type: str
"""
