"""plugin.yml / plugin.json: parsing, errors that name the file and field, commands, discovery."""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

from support.paths import EXAMPLES, PLUGINS
from tgo_host.plugins.manifest import ManifestError, discover, load_manifest

MANAGED = PLUGINS / "managed"


def write(directory, name, text):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "w") as fh:
        fh.write(textwrap.dedent(text))
    return path


def test_full_plugin_yml(tmp_path):
    write(tmp_path, "plugin.yml", """\
        id: com.example.my-plugin
        name: my-plugin
        version: 1.0
        description: An example
        author: Someone
        source: {github: {repo: owner/name, path: ./, ref: main}}
        build:
          language: python
          python: {entrypoint: src/main.py}
          go: {main: ./main.go, output: my-plugin-bin}
          nodejs: {entrypoint: index.js}
        runtime:
          args: [--port, 8080]
          env: {KEY: value, DEBUG: true, N: 3}
          auto_restart: false
          restart_delay: 5
        extra_key_from_the_future: ignored
    """)
    m = load_manifest(str(tmp_path))
    assert (m.id, m.name, m.version, m.description, m.author) == (
        "com.example.my-plugin", "my-plugin", "1.0", "An example", "Someone")
    assert m.source_url == "https://github.com/owner/name"
    assert m.build.language == "python" and m.build.go.output == "my-plugin-bin"
    assert m.runtime.args == ["--port", "8080"]
    assert m.runtime.env == {"KEY": "value", "DEBUG": "true", "N": "3"}
    assert m.runtime.auto_restart is False and m.runtime.restart_delay == 5
    assert m.directory == str(tmp_path) and m.file == str(tmp_path / "plugin.yml")
    argv, cwd, env = m.command()
    assert argv == [sys.executable, str(tmp_path / "src" / "main.py"), "--port", "8080"]
    assert cwd == str(tmp_path) and env == m.runtime.env


def test_python_prefers_the_plugins_own_venv(tmp_path):
    write(tmp_path, "plugin.yml", "id: p\nbuild: {language: python}\n")
    assert load_manifest(str(tmp_path)).command("/opt/py").argv == ["/opt/py", str(tmp_path / "main.py")]
    venv_python = tmp_path / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.symlink_to(sys.executable)
    assert load_manifest(str(tmp_path)).command("/opt/py").argv == [str(venv_python), str(tmp_path / "main.py")]


@pytest.mark.parametrize(
    "build, runtime, argv",
    [
        ("{language: nodejs}", "{}", ["node", "{d}/index.js"]),
        ("{language: nodejs, nodejs: {entrypoint: dist/app.js}}", "{args: [-v]}", ["node", "{d}/dist/app.js", "-v"]),
        ("{language: go, go: {main: ./main.go, output: bin/plug}}", "{}", ["{d}/bin/plug"]),
        ("{language: binary, binary: {path: ./plug}}", "{}", ["{d}/plug"]),
        ("{language: go}", "{command: ./my-bin, args: [a]}", ["{d}/my-bin", "a"]),  # command wins
        ("{language: python}", "{command: python3, args: [x.py]}", ["python3", "x.py"]),  # bare name: PATH
        ("{language: binary}", "{command: /usr/bin/env, args: ['true']}", ["/usr/bin/env", "true"]),
    ],
)
def test_command_by_language(tmp_path, build, runtime, argv):
    write(tmp_path, "plugin.yml", f"id: p\nbuild: {build}\nruntime: {runtime}\n")
    launch = load_manifest(str(tmp_path)).command()
    assert launch.argv == [a.replace("{d}", str(tmp_path)) for a in argv]


def test_working_directory_is_relative_to_the_plugin_dir(tmp_path):
    write(tmp_path, "plugin.yml", "id: p\nruntime: {command: ./run, working_directory: data}\n")
    assert load_manifest(str(tmp_path)).command().cwd == str(tmp_path / "data")


def test_older_plugin_json(tmp_path):
    (tmp_path / "plugin.json").write_text(json.dumps({
        "name": "legacy", "version": "0.1",
        "runtime": {"command": "./bin/legacy", "args": ["--x"], "working_directory": "work", "env": {"A": "b"}},
    }))
    m = load_manifest(str(tmp_path))
    assert m.id == "legacy"  # no id: the name
    assert m.command() == ([str(tmp_path / "bin" / "legacy"), "--x"], str(tmp_path / "work"), {"A": "b"})
    (tmp_path / "plugin.json").write_text(json.dumps({"runtime": {"command": "x"}}))
    assert load_manifest(str(tmp_path)).id == tmp_path.name  # nor a name: the directory


def test_plugin_yml_wins_over_plugin_json(tmp_path):
    write(tmp_path, "plugin.yml", "id: from-yml\nruntime: {command: x}\n")
    (tmp_path / "plugin.json").write_text('{"id": "from-json", "runtime": {"command": "x"}}')
    assert load_manifest(str(tmp_path)).id == "from-yml"


@pytest.mark.parametrize(
    "text, field, reason",
    [
        ("id: x\nbuild: {language: rust}\n", "build.language", "must be one of python, nodejs, go, binary"),
        ("name: x\nruntime: {command: y}\n", "id", "required"),
        ("id: x\nbuild: {python: {}}\n", "build.language", "required"),
        ("id: x\nruntime: {command: y, args: --a}\n", "runtime.args", "expected a list"),
        ("id: x\nruntime: {command: y, args: [a, [b]]}\n", "runtime.args[1]", "expected a string"),
        ("id: x\nruntime: {command: y, env: {A: {b: 1}}}\n", "runtime.env.A", "expected a string, number or boolean"),
        ("id: x\nruntime: {command: y, args: [yes]}\n", "runtime.args[0]", "expected a string (quote it"),
        ("id: x\nruntime: {command: y, env: [A]}\n", "runtime.env", "expected a mapping of NAME: value"),
        ("id: x\nruntime: {command: y, auto_restart: yes please}\n", "runtime.auto_restart", "expected a boolean"),
        ("id: x\nruntime: {command: y, restart_delay: soon}\n", "runtime.restart_delay", "expected a number"),
        ("id: x\nruntime: {command: y, restart_delay: -1}\n", "runtime.restart_delay", "must be 0 or more seconds"),
        ("id: x\nsource: [github]\nruntime: {command: y}\n", "source", "expected an object"),
        ("id: x\n", "runtime.command", "required when there is no build section"),
        ("id: x\nbuild: {language: binary}\n", "runtime.command", "required for language binary"),
        ("id: a/b\nruntime: {command: y}\n", "id", "must be a non-empty name without slashes"),
    ],
)
def test_errors_name_file_and_field(tmp_path, text, field, reason):
    path = write(tmp_path, "plugin.yml", text)
    with pytest.raises(ManifestError) as info:
        load_manifest(str(tmp_path))
    assert info.value.file == path and info.value.field == field
    assert str(info.value).startswith(f"{path}: {field}: {reason}")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("id: x\nbuild: {language: python\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping at the top level"),
        ("", "expected a mapping at the top level"),
    ],
)
def test_unreadable_manifests(tmp_path, text, fragment):
    path = write(tmp_path, "plugin.yml", text)
    with pytest.raises(ManifestError, match=fragment) as info:
        load_manifest(str(tmp_path))
    assert str(info.value).startswith(path)


def test_bad_language_message_is_exact(tmp_path):
    path = write(tmp_path, "plugin.yml", "id: x\nbuild: {language: rust}\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(str(tmp_path))
    assert str(info.value) == f"{path}: build.language: must be one of python, nodejs, go, binary"


def test_discover_reports_bad_manifests_and_keeps_the_good():
    bad = str(MANAGED / "bad")
    manifests, errors = discover([bad, "/nonexistent/plugins"])
    assert sorted(m.id for m in manifests) == ["test.bad-ok", "test.dup"]
    assert next(m for m in manifests if m.id == "test.dup").directory.endswith("dup-a")  # the first wins
    messages = [str(e) for e in errors]
    expected = {
        "bad-args/plugin.yml: runtime.args: expected a list",
        "bad-language/plugin.yml: build.language: must be one of python, nodejs, go, binary",
        "bad-yaml/plugin.yml: not valid YAML",
        "dup-b/plugin.yml: id: duplicate plugin id 'test.dup'",
        "no-id/plugin.yml: id: required",
        "/nonexistent/plugins: cannot read plugin directory",
    }
    for fragment in expected:
        assert any(fragment in m for m in messages), (fragment, messages)
    assert len(errors) == len(expected)  # no-manifest/ is skipped silently


def test_every_example_plugin_manifest_loads():
    manifests, errors = discover([str(EXAMPLES)])
    assert errors == []
    assert len(manifests) == len([d for d in EXAMPLES.iterdir() if (d / "plugin.yml").exists()]) > 0
    for m in manifests:
        argv, cwd, _ = m.command()
        assert os.path.isdir(cwd)
        if m.build.language == "python":
            assert argv[0] == sys.executable and os.path.isfile(argv[1])
