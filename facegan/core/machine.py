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


def memory_available(meminfo='/proc/meminfo', status='/proc/self/status'):
    """
    :param meminfo: The file that says how much memory the machine has free (a test gives a fake one)
    :param status: The file that says how much address space this process uses
    :return: Bytes this process may still take: the machine's available memory, or less where the process's
             address space is limited (ulimit -v, RLIMIT_AS); None where neither can be read (off Linux)
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
    return min(limits) if limits else None
