"""
Mutation testing of the modules that need no TensorFlow, each against its own fast tests (docs/testing.md).

    python tools/mutation.py                      # every module of MODULES
    python tools/mutation.py facegan/core/files.py  # one (or a few)

For each module, mutmut (setup.cfg's [mutmut] section) runs in a scratch copy of the project whose
setup.cfg mutates that module alone and selects its tests alone, so that a mutant counts as killed only
when the module's own tests fail. Prints, per module, killed / total and the surviving mutants' diffs,
and writes them to mutation-results.json in the scratch folder.
"""
import argparse
import configparser
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each module and the test files that are its own
MODULES = {
    'facegan/core/errors.py': ['tests/test_errors.py'],
    'facegan/core/files.py': ['tests/test_files.py'],
    'facegan/core/run_config.py': ['tests/test_run_config.py'],
    'facegan/data/images.py': ['tests/test_images.py', 'tests/test_properties_data.py'],
    'facegan/data/image_cache.py': ['tests/test_image_cache.py', 'tests/test_data_faults.py'],
    'facegan/data/downloads.py': ['tests/test_downloads.py'],
    'facegan/data/archives.py': ['tests/test_archives.py'],
    'facegan/data/datasets.py': ['tests/test_parsing.py'],
    'facegan/metrics/nearest.py': ['tests/test_nearest.py'],
    'facegan/metrics/sliced_wasserstein.py': ['tests/test_sliced_wasserstein.py'],
    'facegan/inspect/latent_walk.py': ['tests/test_latent_walk.py'],
    'facegan/train/run_warnings.py': ['tests/test_run_warnings.py'],
    'facegan/train/schedule.py': ['tests/test_schedule.py'],
    'facegan/output/run_log.py': ['tests/test_run_log.py'],
    'facegan/graph/checkpoint_files.py': ['tests/test_checkpoint_files.py'],
    'facegan/app/parsing.py': ['tests/test_parsing.py'],
    'facegan/app/command_line.py': ['tests/test_parsing.py'],
    'helper.py': ['tests/test_helper.py', 'tests/test_properties_data.py', 'tests/test_data_faults.py'],
}
# What a scratch copy holds: the code, the tests and the settings mutmut and pytest read
COPIED = ('facegan', 'helper.py', 'tests', 'tools', 'docs', 'pytest.ini', 'setup.cfg')
# mutmut's exit codes (mutmut/stats.py): a timeout is a mutant the tests stopped, as a failure is
KILLED, TIMEOUT, SURVIVED = (1, 3), (-24, 24, 36, 152, 255), (0,)


def scratch_copy(module, folder):
    """Copy the project into folder, its setup.cfg set to mutate module against its own tests."""
    for name in COPIED:
        source = os.path.join(ROOT, name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(folder, name), ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copy2(source, os.path.join(folder, name))
    config = configparser.ConfigParser()
    config.read(os.path.join(folder, 'setup.cfg'))
    config['mutmut']['only_mutate'] = '\n' + module
    config['mutmut']['pytest_add_cli_args_test_selection'] = '\n' + '\n'.join(MODULES[module])
    with open(os.path.join(folder, 'setup.cfg'), 'w') as f:
        config.write(f)


def diff_of(mutant, folder):
    """:return: The lines mutmut show gives for a mutant: what it removed and added"""
    shown = subprocess.run(['mutmut', 'show', mutant], cwd=folder, capture_output=True, text=True).stdout
    return [line for line in shown.splitlines() if line[:1] in '+-' and line[:3] not in ('+++', '---')]


def run(module, folder):
    """
    Run mutmut on one module in a scratch copy
    :return: {'module', 'total', 'killed', 'timeout', 'survived': {mutant: diff lines}, 'other': {mutant: code}}
    """
    scratch_copy(module, folder)
    with open(os.path.join(folder, 'mutmut.log'), 'w') as log:
        subprocess.run(['mutmut', 'run'], cwd=folder, stdout=log, stderr=subprocess.STDOUT, check=False)
    with open(os.path.join(folder, 'mutants', module + '.meta')) as f:
        codes = json.load(f)['exit_code_by_key']
    if all(code is None for code in codes.values()):  # mutmut stopped before the mutants: its clean run failed
        with open(os.path.join(folder, 'mutmut.log'), errors='replace') as log:
            print(log.read()[-3000:], file=sys.stderr)
    return {'module': module, 'total': len(codes),
            'killed': sum(code in KILLED for code in codes.values()),
            'timeout': sum(code in TIMEOUT for code in codes.values()),
            'survived': {name: diff_of(name, folder) for name, code in sorted(codes.items()) if code in SURVIVED},
            'other': {name: code for name, code in sorted(codes.items())
                      if code not in KILLED + TIMEOUT + SURVIVED}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('modules', nargs='*', default=sorted(MODULES), choices=sorted(MODULES), metavar='MODULE')
    parser.add_argument('--keep', action='store_true', help='keep the scratch copies (their mutants/ folders)')
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix='facegan-mutation-')
    results = []
    for module in args.modules:
        folder = os.path.join(base, module.replace('/', '_'))
        os.makedirs(folder)
        result = run(module, folder)
        results.append(result)
        detected = result['killed'] + result['timeout']
        print('{}: {} / {} killed ({:.1f}%){}{}'.format(
            module, detected, result['total'], 100 * detected / max(result['total'], 1),
            ', {} by timeout'.format(result['timeout']) if result['timeout'] else '',
            ', other: {}'.format(result['other']) if result['other'] else ''), flush=True)
        for name, diff in result['survived'].items():
            print('  survived {}\n    {}'.format(name, '\n    '.join(diff)), flush=True)
        if not args.keep:
            shutil.rmtree(os.path.join(folder, 'mutants'), ignore_errors=True)
        with open(os.path.join(base, 'mutation-results.json'), 'w') as f:  # after each module: a long run can be cut
            json.dump(results, f, indent=1)
    print('results: {}'.format(os.path.join(base, 'mutation-results.json')))
    return 0 if all(not r['other'] for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
