"""
facegan.core.machine's reading of the CPU's vectors from /proc/cpuinfo's flags, faked: the widest that
oneDNN may use, as ONEDNN_MAX_CPU_ISA caps it; bfloat16 where TF_ENABLE_ONEDNN_OPTS turns oneDNN off; the
memory and cores a process may use.
"""
import pytest

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
    assert machine.memory_available(meminfo, status) == expected_kb * 1024


def test_memory_available_is_none_where_it_cannot_be_read(tmp_path):
    assert machine.memory_available(str(tmp_path / 'no-meminfo'), str(tmp_path / 'no-status')) is None


# --- cores ---------------------------------------------------------------------------------------------

def test_usable_cores_are_this_process_s_affinity(monkeypatch):
    monkeypatch.setattr(machine.os, 'sched_getaffinity', lambda pid: {0, 3}, raising=False)
    assert machine.usable_cores() == 2


def test_without_an_affinity_every_core_is_usable(monkeypatch):
    monkeypatch.delattr(machine.os, 'sched_getaffinity', raising=False)
    monkeypatch.setattr(machine.os, 'cpu_count', lambda: 6)
    assert machine.usable_cores() == 6
