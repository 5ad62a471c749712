# Ereje: corrections to Mitogen's strategies, shared by the two in strategy_plugins/.
"""What Ereje's two Mitogen strategies (strategy_plugins/mitogen_linear.py, mitogen_free.py) correct.

Mitogen documents pointing `strategy_plugins` at its own directory inside site-packages; that
path differs between a developer's venv, CI and the execution environment, so the strategy files
import Mitogen's strategies from the installed `mitogen` package (pinned in requirements.txt) and
this module, imported by both, makes its corrections once per run.

Plays on this machine itself (`connection: local`: playbooks/lab.yml, the preflight, Molecule's
create and destroy) run under Ansible's own linear strategy (`local_play`). Molecule's create starts
`podman_container` as an async job and polls it; under Mitogen that job, forked from Mitogen's
multi-threaded interpreter, hung on a lock for good (seen with mitogen 0.3.54, ansible-core 2.19:
the scenario waited 300 polls for containers that were never created). These plays are a few
tasks each; Mitogen's speed matters for the hosts.

The other correction: Mitogen 0.3.54 reads connection options such as the container name
(`ansible_host`) from the raw host variables, so the lab's `"{{ lab_prefix }}-web"` reached podman
as the literal text and the host was unreachable. ansible-core templates these options itself
before a connection opens; the wrapper below does the same with the task's templar. The lab's
templates only name play-wide variables (lab_prefix), so the result is the same for a task
delegated to another host.

Four more make it fast on small machines (README, "Speed"; measured on the 2-core lab):

- CPU pinning is off. On a machine with two or three cores Mitogen keeps core 0 for its
  connection multiplexer and pins Ansible, every worker, and through them the `podman exec`
  sessions and the hosts' interpreters, to the one core left: the lab's no-op run left 45 % of
  the two cores idle. Without pinning the kernel spreads the work.
- The installed collections are listed once per run, not once per task. Mitogen's planner lists
  every installed collection (ansible 12 ships about a hundred, each with a meta file to parse)
  whenever a task uses a collection module it has not planned before; it remembers that per
  worker process, and Ansible forks a new worker for every task and host, so it listed them again
  for every such task (0.2-0.4 s of CPU each, a fifth of a no-op run's CPU). The list is made
  once in the main process before the workers fork, and the workers inherit it.
- Jinja's filters and tests are loaded once in the main process. Ansible loads them the first
  time a template uses one; the main process seldom templates, so every worker imported them
  again (the filter module alone imports passlib, which times crypt(3) methods at import):
  a sixth of the workers' CPU in a no-op run.
- A template is compiled once per run. Ansible compiles the text of a template every time it
  renders it and keeps nothing, so the three keywords every play of site.yml sets from
  `ereje_audit` and the lab's container names were compiled again for every task and host:
  8,000 of the 12,000 compilations of a lab no-op run, about 1 ms each. Jinja's compiled code
  depends only on the template's text and the settings of the environment that compiles it
  (delimiters, extensions, Ansible's backslash escaping), which make the cache key; the code is
  bound to the environment of each use as before, so rendering is unchanged. The play's own
  keywords and the hosts' connection names are compiled in the main process, which the workers
  inherit (`before_workers_fork`).
"""

import contextlib
import functools

import ansible.collections.list
import ansible_mitogen.affinity
import ansible_mitogen.planner
from ansible import constants as C
from ansible._internal._templating import _jinja_bits
from ansible.plugins.loader import filter_loader, test_loader
from ansible.template import Templar
from ansible_mitogen import transport_config

__all__ = ["corrected"]


# No CPU pinning: the base policy class does nothing (see the module's docstring).
ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()


@functools.cache
def _installed_collection_dirs():
    """Every installed collection's directory, listed once per run (module docstring)."""
    return tuple(path.decode("utf-8") for path in ansible.collections.list.list_collection_dirs())


def _load_collections(invocation):
    # What ansible_mitogen.planner._load_collections does, from the list made once.
    invocation._extra_sys_paths.update(_installed_collection_dirs())


ansible_mitogen.planner._load_collections = _load_collections


@functools.cache
def _load_jinja_plugins():
    """Ansible's filters and tests, loaded once in the main process (module docstring)."""
    for loader in (filter_loader, test_loader):
        list(loader.all())


_COMPILED_CACHE_SIZE = 4096
_compiled = {}
_jinja_compile = _jinja_bits.AnsibleEnvironment.compile


def _compile_once(self, source, name=None, filename=None, raw=False, defer_init=False):  # noqa: PLR0917 - Jinja's signature
    """Jinja's Environment.compile, remembering the code of a template text (module docstring)."""
    if not isinstance(source, str) or raw or self._debuggable_template_source:
        return _jinja_compile(self, source, name, filename, raw, defer_init)
    context = _jinja_bits._TemplateCompileContext.current(optional=True)
    key = (
        str.__str__(source),
        name,
        filename,
        defer_init,
        type(self),
        bool(context and context.escape_backslashes),
        tuple(getattr(self, field) for field in _jinja_bits._TEMPLATE_OVERRIDE_FIELD_NAMES),
        tuple(self.extensions),
        self.optimized,
        self.is_async,
        self.finalize,
    )
    code = _compiled.get(key)
    if code is None:
        code = _jinja_compile(self, source, name, filename, raw, defer_init)
        if len(_compiled) < _COMPILED_CACHE_SIZE:
            _compiled[key] = code
    return code


if not getattr(_jinja_bits.AnsibleEnvironment, "_ereje_compile_once", False):
    _jinja_bits.AnsibleEnvironment.compile = _compile_once
    _jinja_bits.AnsibleEnvironment._ereje_compile_once = True


def corrected(mitogen_strategy, ansible_strategy):
    """Mitogen's strategy class with the corrections of this module: Ansible's own strategy runs
    plays on this machine itself, and every play when Mitogen is not the configured strategy
    (ANSIBLE_STRATEGY=linear rules it out)."""

    class StrategyModule(mitogen_strategy):
        def run(self, iterator, play_context, result=0):
            before_workers_fork(self, iterator)
            if local_play(iterator) or not C.DEFAULT_STRATEGY.startswith("mitogen"):
                # Ansible's own run, without Mitogen's connection and action wrappers.
                return ansible_strategy.run(self, iterator, play_context)
            return super().run(iterator, play_context)

    return StrategyModule


def before_workers_fork(strategy, iterator):
    """What every worker of the play needs, made once in the main process (module docstring)."""
    _installed_collection_dirs()
    _load_jinja_plugins()
    play = iterator._play
    _compile_play_templates(play, strategy._inventory.get_hosts(play.hosts), strategy._loader)


def local_play(iterator):
    """The play runs on this machine itself (its own `connection:` keyword; play_context still
    holds the default when a strategy starts): Ansible's own strategy runs it (module docstring)."""
    return iterator._play.connection == "local"


def _compile_play_templates(play, hosts, loader):
    """Compile the templates every task of the play renders, before the workers fork."""
    texts = [getattr(play, name, None) for name in play.fattributes]
    texts += [host.vars.get("ansible_host") for host in hosts]
    templar = Templar(loader=loader)
    for text in texts:
        if isinstance(text, str) and "{" in text:
            # The play's variables are unknown here: rendering may fail, compiling has been done.
            with contextlib.suppress(Exception):
                templar.template(text)


_raw_connection_option = transport_config.PlayContextSpec._connection_option


def _templated_connection_option(self, name, fallback_attr=None):
    value = _raw_connection_option(self, name, fallback_attr)
    templar = getattr(self._connection, "templar", None)
    if isinstance(value, str) and "{" in value and templar is not None:
        value = templar.template(value)
    return value


# Wrap the original methods only once, however many times this module is loaded.
if not getattr(transport_config.PlayContextSpec, "_ereje_templated", False):
    transport_config.PlayContextSpec._connection_option = _templated_connection_option
    transport_config.PlayContextSpec._ereje_templated = True
