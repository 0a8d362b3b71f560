"""
facegan/core/run_config.py: a run's settings, saved as run.json atomically and read back (a damaged file is
one line), and what a resume may change: safe changes listed, unsafe ones refused naming the setting.
"""
import dataclasses
import json
import os
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

from facegan.core import run_config
from facegan.core.errors import SettingChanged, TrainingStopped, UserError
from facegan.core.run_config import RunConfig


def _config(**changes):
    """A run's settings: the notebook's CelebA hyperparameters, and changes."""
    settings = dict(epochs=1, batch_size=64, z_dim=100, learning_rate=0.0005, beta1=0.5, dataset='celeba',
                    image_mode='RGB', output_dir='out', precision_used='float32', held_out=256)
    settings.update(changes)
    return RunConfig(**settings)


# --- the settings ---------------------------------------------------------------------------------

def test_channels_follow_the_image_mode():
    assert _config(image_mode='L').channels == 1 and _config(image_mode='RGB').channels == 3


def test_a_run_without_an_output_folder_goes_to_output_dataset():
    assert _config(output_dir=None, dataset='mnist').folder == os.path.join('output', 'mnist')
    assert _config(output_dir='runs/a').folder == 'runs/a'


def test_replace_changes_the_settings_given_and_leaves_none_alone():
    config = _config()
    changed = config.replace(batch_size=16, seed=None, learning_rate=0.0002)
    assert (changed.batch_size, changed.seed, changed.learning_rate) == (16, 0, 0.0002)
    assert dataclasses.replace(changed, batch_size=64, learning_rate=0.0005) == config
    assert config.batch_size == 64  # the original stays as it was


def test_settings_are_every_field_in_order():
    assert run_config.SETTINGS == tuple(field.name for field in dataclasses.fields(RunConfig))
    assert set(run_config.UNSAFE_ON_RESUME) <= set(run_config.SETTINGS)


# --- run.json ---------------------------------------------------------------------------------------

@given(batch_size=st.integers(1, 10 ** 6), learning_rate=st.floats(1e-9, 1),
       dataset=st.sampled_from(['synthetic', 'mnist', 'celeba', 'folder']), data_dir=st.none() | st.text(max_size=20),
       seed=st.integers(0, 2 ** 32 - 1), raw_weights=st.booleans(), logdir=st.none() | st.text(max_size=20))
def test_saved_settings_load_back_equal(tmp_path_factory, batch_size, learning_rate, dataset, data_dir, seed,
                                        raw_weights, logdir):
    folder = str(tmp_path_factory.mktemp('run'))
    config = _config(batch_size=batch_size, learning_rate=learning_rate, dataset=dataset, data_dir=data_dir, seed=seed,
                     raw_weights=raw_weights, logdir=logdir)
    run_config.save(config, folder)
    assert run_config.load(folder) == config
    assert os.listdir(folder) == ['run.json']


def test_run_json_holds_every_setting_and_its_format_one_a_line_sorted(tmp_path):
    run_config.save(_config(), str(tmp_path))
    text = (tmp_path / 'run.json').read_text()
    assert json.loads(text) == dict(dataclasses.asdict(_config()), format=run_config.FORMAT)
    lines = text.splitlines()
    assert text.endswith('}\n') and lines[0] == '{' and lines[-1] == '}'
    keys = [re.match(r' "(\w+)": ', line).group(1) for line in lines[1:-1]]
    assert keys == sorted(run_config.SETTINGS + ('format',))


def test_saving_on_a_full_disk_keeps_the_old_run_json_whole(small_disk):
    folder = os.path.join(small_disk, 'run')
    os.makedirs(folder)
    run_config.save(_config(batch_size=8), folder)
    with pytest.raises(OSError):
        with open(os.path.join(small_disk, 'filler'), 'wb') as filler:
            while True:
                filler.write(b'\0' * 4096)
                filler.flush()
    with pytest.raises(OSError):
        run_config.save(_config(batch_size=16, logdir='x' * 10000), folder)
    assert run_config.load(folder).batch_size == 8 and os.listdir(folder) == ['run.json']


def test_a_run_without_run_json_has_no_settings(tmp_path):
    assert run_config.load(str(tmp_path)) is None
    assert run_config.load(str(tmp_path / 'missing')) is None


def test_settings_a_newer_project_added_are_ignored(tmp_path):
    saved = dict(dataclasses.asdict(_config()), format=2, a_new_setting=True)
    (tmp_path / 'run.json').write_text(json.dumps(saved))
    assert run_config.load(str(tmp_path)) == _config()


def test_a_setting_an_older_run_json_lacks_takes_its_default(tmp_path):
    saved = dataclasses.asdict(_config())
    del saved['keep_previous']
    (tmp_path / 'run.json').write_text(json.dumps(saved))
    assert run_config.load(str(tmp_path)).keep_previous == RunConfig.keep_previous


@pytest.mark.parametrize('content,problem', [
    (b'{"epochs": 1, "batch', 'Unterminated string starting at: line 1 column 15 (char 14)'),
    (b'', 'Expecting value: line 1 column 1 (char 0)'),
    (b'[1, 2]', "RunConfig.__init__() missing 7 required positional arguments: 'epochs', 'batch_size', 'z_dim', "
                "'learning_rate', 'beta1', 'dataset', and 'image_mode'"),
    (b'{"epochs": 1}', "RunConfig.__init__() missing 6 required positional arguments: 'batch_size', 'z_dim', "
                       "'learning_rate', 'beta1', 'dataset', and 'image_mode'"),
    (b'{"epochs": 1, \xff}', "'utf-8' codec can't decode byte 0xff in position 14: invalid start byte"),
], ids=['cut', 'empty', 'not-an-object', 'settings-missing', 'not-utf8'])
def test_a_damaged_run_json_is_one_line_that_says_what_to_do(tmp_path, content, problem):
    folder = tmp_path / 'run\nfolder'
    folder.mkdir()
    (folder / 'run.json').write_bytes(content)
    with pytest.raises(TrainingStopped) as err:
        run_config.load(str(folder))
    assert str(err.value) == '{} cannot be read ({}): restore it from a backup, or start the run over'.format(
        os.path.join(str(tmp_path), 'run\\nfolder', 'run.json'), problem)
    assert err.value.__suppress_context__


@pytest.mark.parametrize('setting,value', [
    ('z_dim', '"100"'), ('z_dim', '100.0'), ('z_dim', 'null'), ('z_dim', '0'), ('z_dim', 'true'),
    ('epochs', '0'), ('batch_size', '"four"'), ('seed', '-1'), ('eval_every', '-5'), ('learning_rate', '"0.1"'),
    ('beta1', 'NaN'), ('beta1', 'Infinity'), ('raw_weights', '1'), ('dataset', '7'), ('output_dir', '[]'),
    ('learning_rate', '0'), ('learning_rate', '-0.1'), ('beta1', '1'), ('beta1', '-0.5'), ('average_decay', 'NaN'),
    ('seed', 'true'), ('average_decay', 'false'), ('dataset', '"imagenet"'), ('image_mode', '"CMYK"'),
    ('image_mode', 'null'), ('update_order', '"random"'), ('precision', '"float16"'), ('precision_used', '"float64"'),
    ('precision_used', '"auto"')])
def test_a_run_json_value_its_setting_cannot_hold_is_one_line_naming_it(tmp_path, setting, value):
    config = run_config.RunConfig(1, 8, 100, 0.0002, 0.5, 'mnist', 'L')
    text = json.dumps(dict(dataclasses.asdict(config), format=run_config.FORMAT))
    (tmp_path / 'run.json').write_text(text.replace('"{}": {}'.format(setting, json.dumps(getattr(config, setting))),
                                                    '"{}": {}'.format(setting, value)))
    with pytest.raises(TrainingStopped) as err:
        run_config.load(str(tmp_path))
    assert str(err.value) == '{} cannot be read ({} is {}): restore it from a backup, or start the run over'.format(
        tmp_path / 'run.json', setting, json.dumps(json.loads(value)))


@pytest.mark.parametrize('setting,value', [('max_steps', None), ('held_out', 0), ('seed', 0), ('learning_rate', 1),
                                           ('beta1', 0), ('beta1', 0.999), ('average_decay', 0.5), ('epochs', 1),
                                           ('data_dir', '/data/faces'),
                                           ('output_dir', 'o'), ('raw_weights', True), ('logdir', None),
                                           ('dataset', 'synthetic'), ('dataset', 'mnist'), ('dataset', 'celeba'),
                                           ('dataset', 'folder'), ('image_mode', 'L'), ('image_mode', 'RGB'),
                                           ('update_order', 'simultaneous'), ('update_order', 'alternating'),
                                           ('precision', 'auto'), ('precision', 'float32'), ('precision', 'bfloat16'),
                                           ('precision_used', None), ('precision_used', 'float32'),
                                           ('precision_used', 'bfloat16')])
def test_a_run_json_value_its_setting_can_hold_loads(tmp_path, setting, value):
    config = dataclasses.replace(run_config.RunConfig(1, 8, 100, 0.0002, 0.5, 'mnist', 'L'), **{setting: value})
    run_config.save(config, str(tmp_path))
    assert run_config.load(str(tmp_path)) == config


@pytest.mark.parametrize('name,value,fits', [
    ('epochs', 1, True), ('epochs', 0, False), ('batch_size', np.int64(64), True), ('z_dim', 100.0, False),
    ('z_dim', True, False), ('z_dim', None, False), ('z_dim', '100', False),
    ('learning_rate', np.float32(2e-4), True), ('learning_rate', 1, True), ('learning_rate', 0.0, False),
    ('learning_rate', -1e-9, False), ('learning_rate', float('inf'), False), ('learning_rate', np.nan, False),
    ('beta1', 0, True), ('beta1', 0.5, True), ('beta1', 1, False), ('beta1', -1e-9, False), ('beta1', False, False)])
def test_a_hyperparameter_fits_when_train_can_use_it(name, value, fits):
    """The cells' values as numpy gives them too; a bool is not a number here, whatever Python says"""
    assert run_config.hyperparameter_fits(name, value) is fits


def test_a_hyperparameter_train_cannot_use_stops_in_one_line_naming_its_cell():
    run_config.check_hyperparameter('z_dim', 100)
    run_config.check_hyperparameter('beta1', np.float64(0.5), ' or give --beta1')
    with pytest.raises(UserError) as err:
        run_config.check_hyperparameter('learning_rate', None)
    assert str(err.value) == 'learning_rate is None: it must be a number above 0; set it in the cell of hyperparameters'
    with pytest.raises(UserError) as err:
        run_config.check_hyperparameter('epochs', 'two', ' or give --epochs')
    assert str(err.value) == ("epochs is 'two': it must be a whole number of 1 or more; set it in the cell of "
                              "hyperparameters or give --epochs")


def test_every_hyperparameter_has_a_rule_in_the_order_train_takes_them():
    assert list(run_config.HYPERPARAMETERS) == list(run_config.SETTINGS[:5])
    assert run_config.HYPERPARAMETERS['epochs'] == 'a whole number of 1 or more'
    assert run_config.HYPERPARAMETERS['learning_rate'] == 'a number above 0'
    assert run_config.HYPERPARAMETERS['beta1'] == 'a number from 0 up to 1 (not 1)'


def test_a_run_json_that_is_a_folder_is_one_line(tmp_path):
    (tmp_path / 'run.json').mkdir()
    with pytest.raises(TrainingStopped, match=r'^\S+run.json cannot be read \(\[Errno 21\] Is a directory: '):
        run_config.load(str(tmp_path))


def test_a_multi_line_problem_is_cut_to_its_first_line(tmp_path, monkeypatch):
    def failing_load(f):
        raise ValueError('first line\nsecond line')

    monkeypatch.setattr(json, 'load', failing_load)
    (tmp_path / 'run.json').write_text('{}')
    with pytest.raises(TrainingStopped) as err:
        run_config.load(str(tmp_path))
    assert '(first line)' in str(err.value) and 'second' not in str(err.value)


# --- resuming -------------------------------------------------------------------------------------

def test_a_resume_with_the_same_settings_changes_nothing():
    assert run_config.check_resume(_config(), _config()) == []


def test_safe_changes_are_listed_in_the_settings_order():
    saved = _config()
    now = _config(learning_rate=0.0002, epochs=3, logdir='tb', raw_weights=True, output_dir='moved',
                  data_dir='/data/moved')  # the run's folder and its data's are where they are now: not changes
    assert run_config.check_resume(saved, now) == ['epochs 1 -> 3', 'learning_rate 0.0005 -> 0.0002',
                                                   'logdir none -> tb', 'raw_weights False -> True']


def test_the_precision_used_is_listed_last_in_words():
    assert run_config.check_resume(_config(), _config(precision_used='bfloat16', max_steps=9)) == [
        'max_steps none -> 9', 'precision used float32 -> bfloat16']


def test_a_precision_used_that_an_older_version_did_not_record_is_shown_as_none():
    assert run_config.check_resume(_config(precision_used=None), _config(precision_used='bfloat16')) == [
        'precision used none -> bfloat16']


@pytest.mark.parametrize('setting,before,after,why', [
    ('dataset', 'celeba', 'mnist', 'train on other data'),
    ('image_mode', 'RGB', 'L', 'change the number of channels, which the saved weights do not fit'),
    ('batch_size', 64, 32, 'start mid-epoch at another image, so some images would train twice and others not at all'),
    ('z_dim', 100, 128, 'change the length of z, which the saved weights do not fit'),
    ('seed', 0, 1, 'shuffle the rest of the epoch another way, so some images would train twice and others not at '
                   'all'),
    ('held_out', 256, 128, 'hold other images out, so the scores would be against images the run trained on'),
])
def test_an_unsafe_change_is_refused_naming_the_setting(setting, before, after, why):
    with pytest.raises(SettingChanged) as err:
        run_config.check_resume(_config(**{setting: before}, output_dir='moved/from'),
                                _config(**{setting: after}, output_dir='runs/a\nb'))
    assert err.value.setting == setting
    assert str(err.value) == 'the run in runs/a\\nb was trained with {} {}, not {}: resuming would {}'.format(
        setting, before, after, why)


def test_the_first_unsafe_change_in_the_order_of_unsafe_on_resume_is_named():
    saved = _config()
    now = _config(held_out=8, seed=3, z_dim=64, batch_size=8, image_mode='L', dataset='mnist', learning_rate=1.0)
    named = []
    for name in run_config.UNSAFE_ON_RESUME:
        with pytest.raises(SettingChanged) as err:
            run_config.check_resume(saved, now)
        named.append(err.value.setting)
        now = dataclasses.replace(now, **{name: getattr(saved, name)})  # put it back: the next one is named
    assert named == list(run_config.UNSAFE_ON_RESUME)
    assert run_config.check_resume(saved, now) == ['learning_rate 0.0005 -> 1.0']


@pytest.mark.parametrize('side', ['saved', 'now'])
def test_a_setting_one_side_does_not_know_is_not_a_change(side):
    """An older run.json has no held_out (None); nor does a resume that has not looked at the data yet."""
    unknown, known = _config(held_out=None), _config(held_out=256)
    saved, now = (unknown, known) if side == 'saved' else (known, unknown)
    assert run_config.check_resume(saved, now) == []
