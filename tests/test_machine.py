"""
facegan.core.machine's reading of the CPU's vectors from /proc/cpuinfo's flags, faked: the widest that
oneDNN may use, as ONEDNN_MAX_CPU_ISA caps it; bfloat16 where TF_ENABLE_ONEDNN_OPTS turns oneDNN off; the
memory and cores a process may use: the memory its control groups' limits leave (cgroup v2 and v1, faked,
and a real group where this process may make one).
"""
import os
import subprocess
import sys

import pytest

from conftest import GUARD_SECONDS, ROOT, child_env
from facegan.core import machine

# /proc/cpuinfo's own layout: a block a core, each with its flags line
CPUINFO = 'processor\t: {core}\nmodel name\t: Fake CPU\nflags\t\t: fpu sse2 sse4_1 {flags}\n\n'


def fake_cpuinfo(tmp_path, flags, cores=2):
    """:return: The path of a file laid out as /proc/cpuinfo, every core with these flags"""
    path = tmp_path / 'cpuinfo'
    path.write_text(''.join(CPUINFO.format(core=core, flags=flags) for core in range(cores)))
    return str(path)


@pytest.mark.parametrize('flags, kind', [
    ('avx avx2 fma avx512f avx512bw avx512vl avx512dq', 'AVX-512'),
    ('avx avx2 fma avx512f avx512_bf16 amx_bf16', 'AVX-512'),
    ('avx avx2 fma', 'AVX2'),
    ('avx avx2 fma avx_vnni', 'AVX2'),  # Alder Lake's VNNI on AVX2 vectors: no AVX-512
    ('avx', None),
    ('', None),
])
def test_the_widest_vectors_the_flags_list(tmp_path, flags, kind):
    assert machine.cpu_vector_kind(fake_cpuinfo(tmp_path, flags), environ={}) == kind


@pytest.mark.parametrize('cap, kind', [
    ('AVX2', 'AVX2'), ('avx2_vnni', 'AVX2'), ('AVX', None), ('SSE41', None),
    ('AVX512_CORE', 'AVX-512'), ('AVX512_CORE_AMX', 'AVX-512'), ('ALL', 'AVX-512'), ('DEFAULT', 'AVX-512'),
])
def test_onednn_s_cap_lowers_the_kind(tmp_path, cap, kind):
    cpuinfo = fake_cpuinfo(tmp_path, 'avx avx2 fma avx512f avx512bw avx512vl avx512dq')
    assert machine.cpu_vector_kind(cpuinfo, environ={'ONEDNN_MAX_CPU_ISA': cap}) == kind


def test_no_cpuinfo_is_no_kind(tmp_path):
    assert machine.cpu_vector_kind(str(tmp_path / 'absent'), environ={}) is None


# --- bfloat16 with oneDNN off ----------------------------------------------------------------------------

AMX = 'avx avx2 fma avx512f avx512_bf16 amx_tile amx_bf16'


@pytest.mark.parametrize('value, off', [('0', True), ('false', True), ('False', True), ('1', False), ('', False)])
def test_onednn_turned_off_takes_bfloat16_away(tmp_path, value, off):
    """TensorFlow without oneDNN has no bfloat16 rewrite: its sessions would compute in float32 whatever was asked"""
    cpuinfo, environ = fake_cpuinfo(tmp_path, AMX), {'TF_ENABLE_ONEDNN_OPTS': value}
    assert machine.bfloat16_possible(cpuinfo, environ) is not off
    assert machine.cpu_bfloat16_support(cpuinfo, environ) == (None if off else 'AMX_BF16')
    assert machine.resolve_precision('auto', cpuinfo, environ) == (
        ('float32', 'the CPU has AMX_BF16, but TF_ENABLE_ONEDNN_OPTS={} turns oneDNN off'.format(value)) if off else
        ('bfloat16', 'the CPU has AMX_BF16'))


def test_bfloat16_asked_for_with_onednn_off_is_refused_saying_why(tmp_path):
    with pytest.raises(machine.UserError) as refused:
        machine.resolve_precision('bfloat16', fake_cpuinfo(tmp_path, AMX), {'TF_ENABLE_ONEDNN_OPTS': '0'})
    assert str(refused.value) == ('bfloat16 cannot run here: oneDNN computes it with AVX-512 only, and '
                                  'TF_ENABLE_ONEDNN_OPTS=0 turns oneDNN off; use float32')


# --- memory ----------------------------------------------------------------------------------------------

def _memory_files(tmp_path, available_kb, used_kb):
    """:return: (a fake /proc/meminfo, a fake /proc/self/status), in their own layout"""
    meminfo, status = tmp_path / 'meminfo', tmp_path / 'status'
    meminfo.write_text('MemTotal:       24000000 kB\nMemAvailable:   {} kB\n'.format(available_kb))
    status.write_text('Name:\tpython\nVmPeak:\t 9999999 kB\nVmSize:\t {} kB\n'.format(used_kb))
    return str(meminfo), str(status)


@pytest.mark.parametrize('limit_gib,expected_kb', [(None, 8000000), (4, 4 * 1024 * 1024 - 1000000),
                                                   (16, 8000000)])
def test_memory_available_is_free_memory_or_the_address_space_left_whichever_is_less(tmp_path, monkeypatch,
                                                                                      limit_gib, expected_kb):
    limit = machine.resource.RLIM_INFINITY if limit_gib is None else limit_gib * 1024 ** 3
    monkeypatch.setattr(machine.resource, 'getrlimit', lambda which: (limit, limit))
    meminfo, status = _memory_files(tmp_path, 8000000, 1000000)
    assert machine.memory_available(meminfo, status, str(tmp_path / 'no-cgroup')) == expected_kb * 1024


def test_memory_available_is_none_where_it_cannot_be_read(tmp_path):
    assert machine.memory_available(str(tmp_path / 'no-meminfo'), str(tmp_path / 'no-status'),
                                    str(tmp_path / 'no-cgroup')) is None


GIB, MIB = 1024 ** 3, 1024 ** 2
FREE_KB = 8000000  # the fake machine's MemAvailable: 7.6 GiB, more than the groups below leave
# Each version's files in a group's folder: (the mount under the root, limit, usage, memory.stat's reclaimable key),
# written out from the kernel's layout rather than taken from machine.CGROUP_FILES, so a wrong name there fails
V2 = ('', 'memory.max', 'memory.current', 'inactive_file')
V1 = ('memory', 'memory.limit_in_bytes', 'memory.usage_in_bytes', 'total_inactive_file')


def _cgroups(tmp_path, lines, groups):
    """
    A fake /proc/self/cgroup and /sys/fs/cgroup, in their own layouts
    :param lines: /proc/self/cgroup's lines ('0::/user.slice', '4:memory:/docker/abc')
    :param groups: {folder under the root: (version's files, limit text, usage, reclaimable or None: no memory.stat)}
    :return: The args of memory_available after its status file: (cgroup, cgroup_root)
    """
    root = tmp_path / 'sys-fs-cgroup'
    for folder, (files, limit, usage, reclaimable) in groups.items():
        path = root / folder
        path.mkdir(parents=True, exist_ok=True)
        (path / files[1]).write_text(limit + '\n')
        (path / files[2]).write_text('{}\n'.format(usage))
        if reclaimable is not None:  # other keys around it, as the kernel writes them (v1's inactive_file: this
            # group's own cache, without the groups below it, which its total_ counts)
            (path / 'memory.stat').write_text('anon 1\nactive_file 7\n{}{} {}\nunevictable 0\n'.format(
                'inactive_file 4096\n' if files is V1 else '', files[3], reclaimable))
    (tmp_path / 'cgroup').write_text(''.join(line + '\n' for line in lines))
    return str(tmp_path / 'cgroup'), str(root)


@pytest.mark.parametrize('files,line', [(V2, '0::/system.slice/app.service'),
                                        (V1, '4:memory:/system.slice/app.service'),
                                        (V1, '7:memory,hugetlb:/system.slice/app.service')])
def test_memory_available_is_what_the_control_groups_limit_leaves_not_counting_reclaimable_cache(tmp_path, files,
                                                                                                 line):
    meminfo, status = _memory_files(tmp_path, FREE_KB, 1000000)
    group = os.path.join(files[0], 'system.slice', 'app.service')
    cgroup = _cgroups(tmp_path, ['2:cpu,cpuacct:/elsewhere', line],
                      {group: (files, str(4 * GIB), 3 * GIB, 512 * MIB)})
    assert machine.memory_available(meminfo, status, *cgroup) == 4 * GIB - (3 * GIB - 512 * MIB)
    (tmp_path / 'sys-fs-cgroup' / group / 'memory.stat').unlink()  # unreadable: all the usage counts
    assert machine.memory_available(meminfo, status, *cgroup) == 1 * GIB


@pytest.mark.parametrize('files', [V2, V1])
def test_a_group_above_with_less_left_is_the_limit(tmp_path, files):
    meminfo, status = _memory_files(tmp_path, FREE_KB, 1000000)
    mount = files[0]
    cgroup = _cgroups(tmp_path, ['{}:/user.slice/session.scope'.format('0:' if mount == '' else '9:memory')], {
        os.path.join(mount, 'user.slice', 'session.scope'): (files, str(4 * GIB), 1 * GIB, 0),
        os.path.join(mount, 'user.slice'): (files, str(3 * GIB), 2 * GIB + 256 * MIB, 0)})
    assert machine.memory_available(meminfo, status, *cgroup) == 768 * MIB


@pytest.mark.parametrize('lines,groups', [
    # /proc/self/cgroup names the group as the host sees it; inside, the container's own is the mount's root
    (['0::/docker/3f1a', '5:memory:/docker/3f1a'],
     {'': (V2, str(2 * GIB), 1 * GIB, 0), 'memory': (V1, str(4 * GIB), 1 * GIB, 0)}),
    # a group of its own inside the container (its init's, with a cgroup namespace): the root's limit holds it too
    (['0::/init.scope'], {'': (V2, str(2 * GIB), 1 * GIB, 0), 'init.scope': (V2, 'max', 1 * GIB, 0)}),
])
def test_a_container_s_limit_is_its_own_group_at_the_root(tmp_path, lines, groups):
    meminfo, status = _memory_files(tmp_path, FREE_KB, 1000000)
    assert machine.memory_available(meminfo, status, *_cgroups(tmp_path, lines, groups)) == 1 * GIB


@pytest.mark.parametrize('line,groups', [
    ('0::/app', {'app': (V2, 'max', 3 * GIB, 0)}),  # v2's no limit
    ('4:memory:/app', {'memory/app': (V1, '9223372036854771712', 3 * GIB, 0)}),  # v1's: the largest page count
    ('0::/app', {'app': (V2, 'lots', 3 * GIB, 0)}),  # not a number
    ('0::/app', {}),  # no files
    ('4:memory:/../escape', {'memory': (V1, 'max', 0, 0), 'escape': (V1, str(GIB), 0, 0)}),  # nothing outside
    ('4:cpu:/app', {'memory/app': (V1, str(GIB), 0, 0)}),  # not the memory controller's group
    ('not a cgroup line', {'': (V2, str(GIB), 0, 0)}),
])
def test_groups_without_a_limit_that_can_be_read_leave_the_machines_free_memory(tmp_path, line, groups):
    meminfo, status = _memory_files(tmp_path, FREE_KB, 1000000)
    assert machine.memory_available(meminfo, status, *_cgroups(tmp_path, [line], groups)) == FREE_KB * 1024


def _own_memory_group():
    """:return: (the folder of this process's memory control group, its version's files), or None if it has none"""
    return next(((levels[0], files) for levels, files in machine.memory_groups()
                 if os.path.exists(os.path.join(levels[0], files[1]))), None)


# A process in it starts, puts itself in the group, then says what it may take
_IN_A_GROUP = """
import os, sys
sys.path.insert(0, {root!r})
with open(os.path.join({group!r}, 'cgroup.procs'), 'w') as procs:
    procs.write(str(os.getpid()))
from facegan.core import machine
print(machine.memory_available())
"""


def test_a_process_in_a_real_control_group_may_take_no_more_than_its_limit():
    """
    A control group made for the test, its limit well under the machine's free memory: a process in it may take
    no more than the limit (a container's, where Linux would kill the process past it)
    """
    own = _own_memory_group()
    if own is None:
        pytest.skip('this process has no memory control group')
    (folder, files), limit = own, 512 * MIB  # (found by the code tested: the limit below is the test's own)
    group = os.path.join(folder, 'facegan-test-{}'.format(os.getpid()))
    try:
        os.mkdir(group)
    except OSError as err:
        pytest.skip('no control group can be made here (it takes root and a writable cgroup mount): {}'.format(err))
    try:
        if not os.path.exists(os.path.join(group, files[1])):  # v2: memory not in the parent's subtree_control
            pytest.skip('the groups below {} have no memory controller'.format(folder))
        with open(os.path.join(group, files[1]), 'w') as limit_file:
            limit_file.write(str(limit))
        result = subprocess.run([sys.executable, '-c', _IN_A_GROUP.format(root=ROOT, group=group)],
                                capture_output=True, text=True, env=child_env(), timeout=GUARD_SECONDS)
    finally:
        os.rmdir(group)
    assert result.returncode == 0, result.stderr
    assert 0 < int(result.stdout) <= limit < machine.memory_available()


# --- cores ---------------------------------------------------------------------------------------------

def test_usable_cores_are_this_process_s_affinity(monkeypatch):
    monkeypatch.setattr(machine.os, 'sched_getaffinity', lambda pid: {0, 3}, raising=False)
    assert machine.usable_cores() == 2


def test_without_an_affinity_every_core_is_usable(monkeypatch):
    monkeypatch.delattr(machine.os, 'sched_getaffinity', raising=False)
    monkeypatch.setattr(machine.os, 'cpu_count', lambda: 6)
    assert machine.usable_cores() == 6
