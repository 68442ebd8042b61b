# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation stub: the work is done by the action plugin plugins/action/url_probe.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: url_probe
short_description: Ask a URL with a short HEAD request from the controller
version_added: "0.1.0"
description:
  - Action plugin (runs on the controller, never connects to the host) - tells whether a download URL
    answers before the collection tries a download of gigabytes. The same question as
    C(ansible.builtin.uri) with C(method=HEAD) delegated to localhost, answered inside Ansible's worker
    process instead of a module process per host.
  - Redirects are followed. Never fails for an unreachable URL - RV(status) is then C(-1) (or the HTTP
    error code) and RV(msg) says why.
author: fleetbench.mlperf developers
extends_documentation_fragment:
  - fleetbench.mlperf.attributes
options:
  url:
    description: The http or https URL to ask.
    type: str
    required: true
  timeout:
    description: Seconds to wait for the answer.
    type: int
    default: 5
  cache_dir:
    description: The controller cache directory that O(cached_files) are looked for in.
    type: path
  cached_files:
    description:
      - Files that make the artifact, C({filename, md5}) (md5 may be empty - no check; other keys, such as the
        registry's C(url), are ignored). When every one is a
        regular file in O(cache_dir) with its md5, RV(cached) is true and the URL is not asked.
    type: list
    elements: dict
  probe:
    description: Ask the URL (when a cached file is missing). False only looks in the cache.
    type: bool
    default: true
notes:
  - Uses the controller's proxy environment (C(https_proxy), C(no_proxy)) and CA bundle, like the uri module.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  action:
    support: full
    description: The work happens in the action plugin on the controller; no module runs on the host.
"""

EXAMPLES = r"""
- name: Is the archive in the controller cache, else does its URL answer?
  fleetbench.mlperf.url_probe:
    url: https://www.dropbox.com/s/57s11df6pts3z69/ILSVRC2012_img_val_500.tar
    cache_dir: ~/.cache/fleetbench-mlperf
    cached_files:
      - {filename: ILSVRC2012_img_val_500.tar, md5: 8627befdd8c2bcf305729020e9db354e}
  register: cache

- name: Does the dataset URL answer?
  fleetbench.mlperf.url_probe:
    url: https://example.org/ILSVRC2012_img_val_500.tar
    timeout: 5
  register: probe

- name: Download only when it answers
  ansible.builtin.debug:
    msg: "reachable: {{ probe.status in range(200, 400) }}"
"""

RETURN = r"""
cached:
  description: Every one of O(cached_files) is in O(cache_dir) with its md5.
  returned: when O(cached_files) is given
  type: bool
missing:
  description: The O(cached_files) names that are not in O(cache_dir) (or differ from their md5).
  returned: when O(cached_files) is given
  type: list
  elements: str
status:
  description:
    - The HTTP status of the answer, C(-1) when there was none (DNS, refused, timeout) or the URL was not
      asked (O(probe=false)), C(0) when the files are cached and the URL was not asked.
  returned: always
  type: int
  sample: 200
msg:
  description: What happened, e.g. C(OK (200)) or C(URLError - [Errno -2] Name or service not known).
  returned: always
  type: str
url:
  description: The URL asked.
  returned: always
  type: str
"""
