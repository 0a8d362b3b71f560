"""
What this machine can do that a run's choices depend on, read without loading TensorFlow: bfloat16
arithmetic in hardware (Intel's AMX, AVX-512's bfloat16 dot products), so the precision that
--precision auto picks; the widest vectors oneDNN may use (AVX-512 or AVX2), which the speed goals
depend on; and the memory a process may still take.
"""
import os
import resource

from facegan.core.errors import UserError

# /proc/cpuinfo's flags for bfloat16 arithmetic in hardware, which oneDNN's bfloat16 rewrite uses:
# Intel AMX tiles, or AVX-512's bfloat16 dot products (Intel since Cooper Lake, AMD since Zen 4)
BFLOAT16_FLAGS = ('amx_bf16', 'avx512_bf16')


# oneDNN's instruction-set levels, the lowest first: ONEDNN_MAX_CPU_ISA caps oneDNN at one of them (a test of
# another CPU's kernels), and bfloat16 needs AVX512_CORE (emulated) or AVX512_CORE_BF16 (native) and up
ISA_LEVELS = ('SSE41', 'AVX', 'AVX2', 'AVX2_VNNI', 'AVX2_VNNI_2', 'AVX512_CORE', 'AVX512_CORE_VNNI', 'AVX512_CORE_BF16',
              'AVX512_CORE_FP16', 'AVX512_CORE_AMX', 'AVX512_CORE_AMX_FP16')


def _flags(cpuinfo):
    """:return: The CPU's flags, as /proc/cpuinfo lists them (none off Linux)"""
    try:
        with open(cpuinfo) as text:
            return set(text.read().split())
    except OSError:
        return set()


def _isa_allows(level, environ=os.environ):
    """:return: Whether ONEDNN_MAX_CPU_ISA (unset, ALL or DEFAULT: no cap) lets oneDNN use this level"""
    cap = environ.get('ONEDNN_MAX_CPU_ISA', 'ALL').upper()
    return cap not in ISA_LEVELS or ISA_LEVELS.index(cap) >= ISA_LEVELS.index(level)


def _onednn_off(environ):
    """:return: Whether TF_ENABLE_ONEDNN_OPTS turns oneDNN off (TensorFlow reads '0' or 'false', any case, as off):
             its bfloat16 rewrite then does nothing, and every session computes in float32"""
    return environ.get('TF_ENABLE_ONEDNN_OPTS', '').strip().lower() in ('0', 'false')


def _limit(environ):
    """:return: What keeps oneDNN from a CPU's bfloat16 here, for a message"""
    if _onednn_off(environ):
        return 'TF_ENABLE_ONEDNN_OPTS={} turns oneDNN off'.format(environ.get('TF_ENABLE_ONEDNN_OPTS'))
    return 'ONEDNN_MAX_CPU_ISA={} caps oneDNN below it'.format(environ.get('ONEDNN_MAX_CPU_ISA'))


def cpu_bfloat16_support(cpuinfo='/proc/cpuinfo', environ=os.environ):
    """
    :param cpuinfo: The file that lists the CPU's flags (a test gives a fake one)
    :param environ: The environment (ONEDNN_MAX_CPU_ISA may cap oneDNN below bfloat16, TF_ENABLE_ONEDNN_OPTS=0
                    turn it off)
    :return: The flag that makes bfloat16 native here, as 'AMX_BF16' or 'AVX512_BF16', or None
             (neither, oneDNN capped below it or off, or no such file: off Linux)
    """
    return _native_bfloat16(_flags(cpuinfo), environ)


def _native_bfloat16(flags, environ):
    """:return: cpu_bfloat16_support's answer for these flags"""
    native = next((flag.upper() for flag in BFLOAT16_FLAGS if flag in flags), None)
    return native if native and not _onednn_off(environ) and _isa_allows('AVX512_CORE_BF16', environ) else None


def bfloat16_possible(cpuinfo='/proc/cpuinfo', environ=os.environ):
    """:return: Whether oneDNN can compute in bfloat16 here: natively, or emulated with AVX-512 (slower than float32)"""
    return _bfloat16_possible(_flags(cpuinfo), environ)


def _bfloat16_possible(flags, environ):
    """:return: bfloat16_possible's answer for these flags"""
    return bool(_native_bfloat16(flags, environ)) or (
        'avx512f' in flags and not _onednn_off(environ) and _isa_allows('AVX512_CORE', environ))


def cpu_vector_kind(cpuinfo='/proc/cpuinfo', environ=os.environ):
    """
    :param cpuinfo: The file that lists the CPU's flags (a test gives a fake one)
    :param environ: The environment (ONEDNN_MAX_CPU_ISA may cap oneDNN below the CPU's widest vectors)
    :return: The widest vectors oneDNN may use here: 'AVX-512' (the CPU has avx512f, uncapped), 'AVX2', or
             None (neither, oneDNN capped below AVX2, or no such file: off Linux)
    """
    flags = _flags(cpuinfo)
    if 'avx512f' in flags and _isa_allows('AVX512_CORE', environ):
        return 'AVX-512'
    return 'AVX2' if 'avx2' in flags and _isa_allows('AVX2', environ) else None


def resolve_precision(asked, cpuinfo='/proc/cpuinfo', environ=os.environ):
    """
    :param asked: 'auto', 'float32' or 'bfloat16'
    :return: (the precision used, 'float32' or 'bfloat16'; why, for auto: 'the CPU has AMX_BF16'), the
             reason None when it was asked for by name
    :raise UserError: bfloat16 asked for where oneDNN cannot compute it (it would stop the program in its C++ code)
    """
    flags = _flags(cpuinfo)
    capped = _limit(environ)
    if asked == 'bfloat16' and not _bfloat16_possible(flags, environ):
        raise UserError('bfloat16 cannot run here: oneDNN computes it with AVX-512 only, and {}; use float32'.format(
            capped if 'avx512f' in flags else 'this CPU has none'))
    if asked != 'auto':
        return asked, None
    support = _native_bfloat16(flags, environ)
    if support:
        return 'bfloat16', 'the CPU has ' + support
    native = sorted(flag.upper() for flag in flags & set(BFLOAT16_FLAGS))
    return 'float32', 'the CPU has {}, but {}'.format(native[0], capped) if native else \
        'the CPU has neither AMX_BF16 nor AVX512_BF16'


def usable_cores():
    """:return: The cores this process may run on: its CPU affinity where the system has one, else all of them"""
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1


# Where a control group's memory limit, its usage and the page cache in it that the kernel can reclaim are read:
# cgroup v2's unified hierarchy, and v1's memory controller (a container's limit, a systemd unit's MemoryMax)
CGROUP_ROOT = '/sys/fs/cgroup'
CGROUP_FILES = {'v2': ('', 'memory.max', 'memory.current', 'inactive_file'),
                'v1': ('memory', 'memory.limit_in_bytes', 'memory.usage_in_bytes', 'total_inactive_file')}


def memory_available(meminfo='/proc/meminfo', status='/proc/self/status', cgroup='/proc/self/cgroup',
                     cgroup_root=CGROUP_ROOT):
    """
    :param meminfo: The file that says how much memory the machine has free (a test gives a fake one)
    :param status: The file that says how much address space this process uses
    :param cgroup: The file that names this process's control groups
    :param cgroup_root: Where the control groups' folders are
    :return: Bytes this process may still take: the machine's available memory, or less where the process's
             address space is limited (ulimit -v, RLIMIT_AS) or its control group's memory is (a container's
             limit: Linux kills a process that goes past it, with no word); None where none can be read (off Linux)
    """
    limits = []
    try:
        with open(meminfo) as text:
            limits += [int(line.split()[1]) * 1024 for line in text if line.startswith('MemAvailable:')]
        address_space = resource.getrlimit(resource.RLIMIT_AS)[0]
        if address_space != resource.RLIM_INFINITY:
            with open(status) as text:
                used = [int(line.split()[1]) * 1024 for line in text if line.startswith('VmSize:')]
            limits += [address_space - used[0]] if used else []
    except (OSError, ValueError, IndexError):
        pass
    limits += cgroup_memory_left(cgroup, cgroup_root)
    return min(limits) if limits else None


def cgroup_memory_left(cgroup='/proc/self/cgroup', root=CGROUP_ROOT):
    """
    :return: [bytes left] under each memory limit of this process's control groups and of the groups above them
             (cgroup v2 and v1): the limit less the memory used in the group, not counting the page cache the
             kernel can reclaim; [] without limits, or where they cannot be read
    """
    return [left for levels, (_, limit, usage, reclaimable) in memory_groups(cgroup, root)
            for folder in levels for left in _left_under_limit(folder, limit, usage, reclaimable)]


def memory_groups(cgroup='/proc/self/cgroup', root=CGROUP_ROOT):
    """
    :param cgroup: The file that names this process's control groups
    :param root: Where their folders are
    :return: [(the folders of a memory control group of this process and of each group above it, its own first,
             CGROUP_FILES of its version)], v2's and v1's; [] where the file cannot be read
    """
    try:
        with open(cgroup) as text:
            groups = [line.rstrip('\n').split(':', 2) for line in text]
    except OSError:
        return []
    found = []
    for _, controllers, path in (group for group in groups if len(group) == 3):
        version = 'v2' if controllers == '' else 'v1' if 'memory' in controllers.split(',') else None
        if version:
            found.append((_cgroup_levels(os.path.join(root, CGROUP_FILES[version][0]), path), CGROUP_FILES[version]))
    return found


def _cgroup_levels(mount, path):
    """
    :return: The folders of the control group at path and of each group above it, its own first; the mount's own
             alone where path is not under it (a container mounts its own group as the root)
    """
    relative = os.path.normpath(path.lstrip('/'))
    if relative.split(os.sep)[0] == os.pardir or not os.path.isdir(os.path.join(mount, relative)):
        return [mount]
    parts = [] if relative == os.curdir else relative.split(os.sep)
    return [os.path.join(mount, *parts[:count]) for count in range(len(parts), -1, -1)]


def _left_under_limit(folder, limit_file, usage_file, reclaimable_key):
    """:return: [the bytes a control group's folder says are left under its limit], or [] (no limit, or unreadable)"""
    try:
        with open(os.path.join(folder, limit_file)) as text:
            limit = int(text.read())  # v2's 'max', no limit, is no number
        with open(os.path.join(folder, usage_file)) as text:
            used = int(text.read())
        return [limit - (used - _reclaimable(folder, reclaimable_key))]
    except (OSError, ValueError):
        return []


def _reclaimable(folder, key):
    """:return: The bytes of page cache a control group's memory.stat says the kernel can reclaim (0 where it cannot
             be read)"""
    try:
        with open(os.path.join(folder, 'memory.stat')) as text:
            return sum(int(line.split()[1]) for line in text if line.split()[:1] == [key])
    except (OSError, ValueError, IndexError):
        return 0
