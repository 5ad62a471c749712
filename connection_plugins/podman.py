# Ereje: the containers.podman connection, with pipelining.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt), as the plugin it extends.
"""Why this plugin exists.

Molecule's podman driver and the lab reach their containers with `podman exec`. The upstream
connection (containers.podman.podman) does not pipeline: each task costs a `podman mount`, an exec
to make a temporary directory, a file copy, and an exec to run and remove the module. Measured on
this project's lab (2 cores, four scenarios' worth of load): ten small tasks took 41 s with it and
17 s with this plugin, which sends the module on the stdin of a single `podman exec -i` and mounts
the container only when a file really has to be copied (template, copy, fetch).

It is named `podman` on purpose: Molecule's driver writes `ansible_connection: podman` into the
inventory it generates, and a plugin of that name in the project's `connection_plugins/` takes
precedence over the built-in redirect to containers.podman.podman. Outside this repository the
name resolves to the upstream plugin again, which behaves the same, only slower.
"""

from __future__ import annotations

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase
from ansible_collections.containers.podman.plugins.connection.podman import Connection as UpstreamConnection

DOCUMENTATION = """
name: podman
short_description: Run tasks in a podman container, with pipelining
description:
  - The C(containers.podman.podman) connection with pipelining (the module goes to the
    container on the stdin of one C(podman exec -i)) and a mount of the container's filesystem
    only when a file is copied.
options:
  remote_addr:
    description: The name or ID of the container.
    default: inventory_hostname
    vars:
      - name: ansible_host
      - name: inventory_hostname
      - name: ansible_podman_host
  remote_user:
    description: User (name or UID) that runs commands inside the container.
    ini:
      - section: defaults
        key: remote_user
    env:
      - name: ANSIBLE_REMOTE_USER
    vars:
      - name: ansible_user
  podman_extra_args:
    description: Extra arguments for the podman command line.
    default: ''
    ini:
      - section: defaults
        key: podman_extra_args
    vars:
      - name: ansible_podman_extra_args
    env:
      - name: ANSIBLE_PODMAN_EXTRA_ARGS
  podman_executable:
    description: Executable for the podman command.
    default: podman
    vars:
      - name: ansible_podman_executable
    env:
      - name: ANSIBLE_PODMAN_EXECUTABLE
  pipelining:
    description:
      - Send modules on stdin instead of copying them into the container. On by default (it is
        the point of this plugin); set C(ANSIBLE_PIPELINING=false) to compare.
    type: boolean
    default: true
    env:
      - name: ANSIBLE_PIPELINING
    vars:
      - name: ansible_pipelining
"""


class Connection(UpstreamConnection):
    """containers.podman.podman, pipelined, mounting lazily."""

    transport = "podman"
    has_pipelining = True

    def _connect(self):
        # The upstream plugin mounts the container on every connection (one per task); only
        # file transfers need the mount, so it is made in put_file/fetch_file instead.
        ConnectionBase._connect(self)  # not the upstream _connect: it mounts eagerly
        self._connected = True
        return self

    def _mount(self):
        if self._mount_point is None:
            UpstreamConnection._connect(self)  # the upstream mount, once per connection

    def exec_command(self, cmd, in_data=None, sudoable=False):
        """Run cmd in the container; with in_data (a pipelined module), keep stdin open (-i)."""
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec", "-i"] if in_data is not None else ["exec"]
        if self.user:
            args += ["--user", self.user]
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)

    def put_file(self, in_path, out_path):
        self._mount()
        super().put_file(in_path, out_path)

    def fetch_file(self, in_path, out_path):
        self._mount()
        super().fetch_file(in_path, out_path)
