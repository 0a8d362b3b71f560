"""
What this machine can do that a run's choices depend on, read without loading TensorFlow: bfloat16
arithmetic in hardware (Intel's AMX, AVX-512's bfloat16 dot products), so the precision that
--precision auto picks; and the memory a process may still take.
"""
import resource

# /proc/cpuinfo's flags for bfloat16 arithmetic in hardware, which oneDNN's bfloat16 rewrite uses:
# Intel AMX tiles, or AVX-512's bfloat16 dot products (Intel since Cooper Lake, AMD since Zen 4)
BFLOAT16_FLAGS = ('amx_bf16', 'avx512_bf16')


def cpu_bfloat16_support(cpuinfo='/proc/cpuinfo'):
    """
    :param cpuinfo: The file that lists the CPU's flags (a test gives a fake one)
    :return: The flag that makes bfloat16 native here, as 'AMX_BF16' or 'AVX512_BF16', or None
             (neither, or no such file: off Linux)
    """
    try:
        with open(cpuinfo) as text:
            flags = set(text.read().split())
    except OSError:
        return None
    return next((flag.upper() for flag in BFLOAT16_FLAGS if flag in flags), None)


def resolve_precision(asked, cpuinfo='/proc/cpuinfo'):
    """
    :param asked: 'auto', 'float32' or 'bfloat16'
    :return: (the precision used, 'float32' or 'bfloat16'; why, for auto: 'the CPU has AMX_BF16'), the
             reason None when it was asked for by name
    """
    if asked != 'auto':
        return asked, None
    support = cpu_bfloat16_support(cpuinfo)
    if support:
        return 'bfloat16', 'the CPU has ' + support
    return 'float32', 'the CPU has neither AMX_BF16 nor AVX512_BF16'


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
