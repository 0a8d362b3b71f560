"""
Property tests (Hypothesis) of a run's saved state: whatever truncation, bit flip or garbage hits a
checkpoint's files, the 'checkpoint' index file, losses.csv or swd.csv, resuming and `generate` never
use damaged weights and never end in a traceback.

The run the tests share (conftest.narrow_run: 4 steps, a checkpoint each, scores at 0, 2 and 4, with
the narrow networks of tiny_networks.py, whose checkpoints are 3 MB, not 225) is trained once a
session; each example copies its output folder (hard links for the checkpoints' files) and replaces
only the damaged files by damaged copies: the trained run is never written to. The calls are the ones
the script makes: checkpoints.find_checkpoint and checkpoints.restore (what resuming runs), `generate`
from its command line (app/generating.py), runs.train with resume=True, and RunLog.resume_at and
run_plots.loss_curve (what a resumed run and its summary run).

What is expected, and why:
- A checkpoint whose files were damaged may be used only if every value read from it is the value
  saved (a flip in the index file's padding changes nothing); otherwise the newest checkpoint that
  reads back whole is used, with one warning line naming those skipped, or, with none, one error
  line (exit 1) naming the folder and what to do. TensorFlow's reader catches the damage itself:
  the index file is a table whose blocks carry a CRC32C, and the index holds each tensor's CRC32C,
  checked on every read of the .data file, so no checksum of our own is needed.
- The 'checkpoint' index file says which checkpoints are the run's (a folder holds one run): damaged,
  it may hide some of them (a name no file has is passed over) or be unreadable (then the checkpoints
  are taken by their steps, with a note), but whatever it holds, what is used reads back exactly as
  saved, and the next save rewrites it whole.
- losses.csv and swd.csv are a record, not training state: on resume they are rewritten to their
  whole, well-formed rows up to the step resumed from (the rows after it belong to steps that are
  trained again, or whose checkpoint was damaged), with one note line saying so. A bit flip that
  turns a number into another number cannot be told from a real value and is kept.
"""
import contextlib
import dataclasses
import hashlib
import os
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import given, note, strategies as st
from PIL import Image

import dlnd_face_generation as dlnd
import tiny_networks
from conftest import generate, train_narrow
from facegan.core.errors import TrainingStopped
from facegan.graph import checkpoint_files, checkpoints
from facegan.output import run_log, run_plots
from facegan.output.run_log import RunLog

tf = dlnd.tf

STEPS = (1, 2, 3, 4)  # the trained run's checkpoints
HINT, UNUSABLE = 'train it first', 'start it over'  # what resuming says when there is none (graph/checkpoints.py)
CHECKPOINT_FILES = ['checkpoints/model-{}.{}'.format(step, kind) for step in STEPS
                    for kind in ('index', 'data-00000-of-00001')]
INDEX_FILE = 'checkpoints/checkpoint'
LOG_FILES = ('losses.csv', 'swd.csv')
LOG_COLUMNS = tuple(zip(LOG_FILES, (run_log.LOSS_COLUMNS, run_log.SWD_COLUMNS)))
# Each example of resuming or generate reads every tensor of up to four checkpoints and restores one: with the
# narrow networks that takes a fraction of a second, so these properties get the profile's 30 examples


@pytest.fixture(scope='module', autouse=True)
def narrow():
    """The notebook module's networks are the narrow ones while this module's tests run (generate draws with them)."""
    with pytest.MonkeyPatch.context() as patch:
        tiny_networks.narrow_networks(patch)
        yield


@dataclasses.dataclass(frozen=True)
class Damage(object):
    """One change to one file of a run's output folder."""
    name: str  # the file, relative to the output folder
    kind: str  # 'flip' (a bit), 'truncate' (to a length), or 'replace' (by other bytes)
    offset: int = 0  # the flipped byte, or the length kept
    bit: int = 0
    content: bytes = b''

    def apply(self, folder):
        """Damage the file in folder, replacing it (maybe a hard link to the trained run's) by a damaged copy."""
        path = os.path.join(folder, self.name)
        copy = path + '.damaged'
        if self.kind == 'replace':
            with open(copy, 'wb') as f:
                f.write(self.content)
        else:
            shutil.copyfile(path, copy)
            with open(copy, 'r+b') as f:
                if self.kind == 'truncate':
                    f.truncate(self.offset)
                elif self.offset < os.fstat(f.fileno()).st_size:  # (an earlier damage may have cut the file)
                    f.seek(self.offset)
                    byte = f.read(1)[0] ^ (1 << self.bit)
                    f.seek(self.offset)
                    f.write(bytes([byte]))
        os.replace(copy, path)

    def step(self):
        """:return: The step of the checkpoint whose file this damages, or None"""
        base = os.path.basename(self.name)
        return int(base.split('-')[1].split('.')[0]) if base.startswith('model-') else None


def _sizes(folder, names):
    """:return: [(name, size in bytes)] of these files of folder"""
    return [(name, os.path.getsize(os.path.join(folder, name))) for name in names]


def damages(files, replace=False):
    """
    :param files: [(name, size)] of the files that may be damaged
    :param replace: Also replace a file by arbitrary bytes, or by arbitrary text
    :return: A strategy of one Damage: a bit flipped, or the file cut short, anywhere in it
    """
    @st.composite
    def damage(draw):
        name, size = draw(st.sampled_from(files))
        kind = draw(st.sampled_from(['flip', 'truncate', 'replace'] if replace else ['flip', 'truncate']))
        if kind == 'replace':
            content = draw(st.binary(max_size=300) | st.text(max_size=300).map(lambda text: text.encode('utf-8')))
            return Damage(name, kind, content=content)
        return Damage(name, kind, draw(st.integers(0, size - 1)), draw(st.integers(0, 7)))
    return damage()


def _digests(values):
    """:return: {name: sha256 of the value's dtype, shape and bytes} of {name: numpy value}"""
    return {name: hashlib.sha256(str((value.dtype, value.shape)).encode() + value.tobytes()).hexdigest()
            for name, value in values.items()}


def _checkpoint_digests(prefix):
    """:return: _digests of every tensor of a checkpoint"""
    reader = tf.train.NewCheckpointReader(prefix)
    return _digests({name: reader.get_tensor(name) for name in reader.get_variable_to_dtype_map()})


def _faces(folder):
    """:return: The pixels of folder's face_000.png"""
    with Image.open(os.path.join(folder, 'face_000.png')) as face:
        return np.asarray(face)


@pytest.fixture(scope='module')
def trained_run(narrow_run, tmp_path_factory):
    """
    The run the tests share, and what each of its checkpoints holds and draws
    :return: TrainedRun
    """
    out = narrow_run[0]
    base = tmp_path_factory.mktemp('saved_state')
    prefixes = {step: os.path.join(out, 'checkpoints', 'model-{}'.format(step)) for step in STEPS}
    faces = {}
    for step, prefix in prefixes.items():
        assert generate(['--checkpoint', prefix, '--n', '1', '--output-dir', str(base / 'faces' / str(step))]) == 0
        faces[step] = _faces(str(base / 'faces' / str(step)))
    os.makedirs(str(base / 'scratch'))
    digests = {step: _checkpoint_digests(prefix) for step, prefix in prefixes.items()}
    return TrainedRun(out, str(base / 'scratch'), digests, faces, narrow_run[1])


@dataclasses.dataclass(frozen=True)
class TrainedRun(object):
    """The trained run of trained_run: its output folder, a folder for damaged copies, and what each checkpoint holds"""
    out: str
    scratch: str
    digests: dict = dataclasses.field(repr=False)  # {step: _checkpoint_digests}
    faces: dict = dataclasses.field(repr=False)  # {step: generate's first face from that checkpoint}
    data: str = ''  # the run's data folder


def _link_or_copy(source, destination):
    """
    Hard-link a checkpoint's file (TensorFlow writes them under a temporary name, then renames), copy the rest
    (a run appends to losses.csv in place)
    """
    if os.path.basename(source).startswith('model-'):
        os.link(source, destination)
    else:
        shutil.copy2(source, destination)


@contextlib.contextmanager
def _damaged_copy(run, damage_list):
    """
    :param run: trained_run
    :param damage_list: Damages, applied in order
    :return: A copy of the run's output folder (_link_or_copy: the run's own files are never written) with the damage
    """
    with tempfile.TemporaryDirectory(dir=run.scratch) as temporary:
        copy = os.path.join(temporary, 'out')
        shutil.copytree(run.out, copy, copy_function=_link_or_copy)
        for damage in damage_list:
            damage.apply(copy)
        yield copy


@pytest.fixture(scope='module')
def resume_graph(trained_run):
    """
    A graph of the run's variables (as the checkpoint lists them) and a Saver of them all, as a run's parts have
    :return: Namespace: graph, saver, variables
    """
    reader = tf.train.NewCheckpointReader(os.path.join(trained_run.out, 'checkpoints', 'model-1'))
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    with tf.Graph().as_default() as graph:
        global_step = tf.train.get_or_create_global_step()
        variables = [global_step] + [tf.Variable(tf.zeros(shapes[name], dtypes[name]), name=name)
                                     for name in sorted(shapes) if name != global_step.op.name]
        saver = tf.train.Saver(max_to_keep=None)
    graph.finalize()
    return dataclasses.make_dataclass('ResumeGraph', ['graph', 'saver', 'variables'])(graph, saver, variables)


def _expect_fallback(run, damage_list, used, stderr, folder):
    """
    Assert that checkpoint `used` (a step, or None when none was) is the newest whose values are the ones saved,
    and that stderr says which were skipped in one line
    """
    damaged = {damage.step() for damage in damage_list}
    assert all(step in damaged for step in STEPS if used is None or step > used), 'an undamaged checkpoint skipped'
    lines = stderr.splitlines()
    if used == max(STEPS):
        assert lines == []
    elif used is not None:
        prefix = os.path.join(folder, 'checkpoints', 'model-{}'.format(used))
        assert len(lines) == 1 and lines[0].startswith('warning: skipped checkpoint model-{} ('.format(max(STEPS))) \
            and lines[0].endswith('; using ' + prefix), lines



def _spans(content):
    """:return: [(start, end, fields)] of each line of a CSV (as bytes), end past its line break"""
    spans, start = [], 0
    for line in content.split(b'\n')[:-1]:
        spans.append((start, start + len(line) + 1, line.rstrip(b'\r').decode('ascii').split(',')))
        start += len(line) + 1
    return spans


def _touched(damage, start, end):
    """:return: True if damage changed a byte of [start, end) of its file"""
    if damage.kind == 'replace':
        return True
    return damage.offset < end and (damage.kind == 'truncate' or damage.offset >= start)


def _typed(fields):
    """:return: A row's fields as read_rows gives them: numbers as floats, the weights' word as it is"""
    return [field if field in run_log.TEXT_COLUMNS['weights'] else float(field) for field in fields]


def _read_csv_text(path):
    """:return: (header, rows) of a CSV, each a list of text fields"""
    with open(path, 'rb') as f:
        lines = [fields for _, _, fields in _spans(f.read())]
    return lines[0], lines[1:]


@given(data=st.data())
def test_resume_keeps_the_whole_log_rows_up_to_its_step_and_says_so(trained_run, capsys, data):
    """
    Rows cut short or damaged, and those after the step resumed from, go, in one note line per file;
    every row that no damage touched, up to that step, stays (the curve drawn from what is left: the example
    test below)
    """
    run = trained_run
    damage_list = data.draw(st.lists(damages(_sizes(run.out, LOG_FILES), replace=True), min_size=1, max_size=2))
    step = data.draw(st.sampled_from(STEPS))
    capsys.readouterr()
    with _damaged_copy(run, damage_list) as out:
        before = {name: open(os.path.join(out, name), 'rb').read() for name in LOG_FILES}
        # Without --resume the damaged files are read as they are (the ceiling, the curve): no error
        unresumed = {name: run_log.read_rows(os.path.join(out, name), columns) for name, columns in LOG_COLUMNS}
        log = RunLog(out, 'RGB')
        log.resume_at(step)
        changed = [name for name in LOG_FILES if open(os.path.join(out, name), 'rb').read() != before[name]]
        ceiling = log.untrained_swd()
        log.losses(step + 1, 0.5, 0.25)
        written = {name: _read_csv_text(os.path.join(out, name)) for name in LOG_FILES}
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == len(changed)
    assert all(line.startswith('note: {} held rows '.format(os.path.join(out, name))) and line.endswith(' that step')
               for line, name in zip(lines, changed))
    for name in LOG_FILES:
        with open(os.path.join(run.out, name), 'rb') as f:
            pristine = _spans(f.read())
        header, rows = written[name]
        assert header == pristine[0][2]
        assert [int(row[0]) for row in rows if int(row[0]) > step] == ([step + 1] if name == 'losses.csv' else [])
        kept = [row for row in rows if int(row[0]) <= step]
        # A row is untouched when no byte of it changed, nor the line break before it (a flipped break
        # joins the row to the line before: found by the thorough profile, losses.csv byte 33 bit 0)
        untouched = [fields for start, end, fields in pristine[1:] if int(fields[0]) <= step and
                     not any(_touched(damage, start - 1, end) for damage in damage_list if damage.name == name)]
        assert all(_typed(fields) in [list(row) for row in unresumed[name]] for fields in untouched)
        assert all(fields in kept for fields in untouched) and len(kept) <= sum(
            int(fields[0]) <= step for _, _, fields in pristine[1:])
        assert all(len(row) == len(header) and _typed(row) for row in rows)
    # The ceiling is the untrained generator's score: the score of step 0, the swd column of the first row (not
    # its swd_untrained column, which the run wrote from the ceiling itself, and which a wrong one would match)
    first_swd = _spans(open(os.path.join(run.out, 'swd.csv'), 'rb').read())[1]
    assert first_swd[2][0] == '0'
    if not any(_touched(damage, first_swd[0] - 1, first_swd[1]) for damage in damage_list
               if damage.name == 'swd.csv'):
        assert ceiling == float(first_swd[2][1])


# The curve is drawn from the rows resume_at leaves, which the property above checks whatever the damage. Drawing
# it takes a quarter of a second (30 examples, seven seconds), so each kind of what can be left is drawn here once:
# no score rows, a gap where a loss row was cut short, every loss row gone but the header
@pytest.mark.parametrize('kind,kept', [('no scores', [1, 2, 3]), ('a row cut short', [1, 3]),
                                       ('the header alone', [3])])
def test_a_resumed_run_draws_its_curve_from_what_the_damage_left(trained_run, kind, kept):
    losses = open(os.path.join(trained_run.out, 'losses.csv'), 'rb').read()
    damage = {'no scores': Damage('swd.csv', 'replace', content=b'\xff\x00 not a CSV'),
              'a row cut short': Damage('losses.csv', 'truncate', losses.index(b'\n2,') + 5),
              'the header alone': Damage('losses.csv', 'truncate', losses.index(b'\n') + 1)}[kind]
    with _damaged_copy(trained_run, [damage]) as out:
        log = RunLog(out, 'RGB')
        log.resume_at(2)
        log.losses(3, 0.5, 0.25)
        assert run_log.read_rows(os.path.join(out, 'losses.csv'), run_log.LOSS_COLUMNS)['step'].tolist() == kept
        assert run_plots.loss_curve(out) == os.path.join(out, 'loss_curve.png')
        with Image.open(os.path.join(out, 'loss_curve.png')) as curve:
            assert curve.format == 'PNG' and curve.height > 300


def _resume(sess, graph, folder):
    """Resume as a run does: :return: (the step restored or None, the one-line message when there was none)"""
    try:
        path = checkpoints.find_checkpoint(folder, HINT, UNUSABLE)
    except TrainingStopped as err:
        return None, str(err)
    checkpoints.restore(sess, path, {var.op.name: var for var in graph.variables}, graph.saver)
    return int(sess.run(graph.variables[0])), None


def _checkpoint_damages(run):
    """:return: A strategy of a damage to one file of each of 1 to 4 of the checkpoints"""
    def one_per_step(steps):
        return st.tuples(*[damages(_sizes(run.out, [name for name in CHECKPOINT_FILES
                                                     if name.startswith('checkpoints/model-{}.'.format(step))]))
                           for step in sorted(steps)]).map(list)
    return st.sets(st.sampled_from(STEPS), min_size=1).flatmap(one_per_step)


@given(data=st.data())
def test_resume_restores_the_newest_checkpoint_that_reads_back_as_saved(trained_run, resume_graph, capsys, data):
    """
    What resuming restores holds exactly the values saved at its step, of the newest checkpoint that can; the
    run's next checkpoint, whatever it keeps, is kept and is the one the next resume takes
    """
    run = trained_run
    damage_list = data.draw(_checkpoint_damages(run))
    keep = data.draw(st.integers(1, len(STEPS)))
    capsys.readouterr()
    with _damaged_copy(run, damage_list) as out, tf.Session(graph=resume_graph.graph) as sess:
        used, message = _resume(sess, resume_graph, out)
        restored = _digests(dict(zip([v.op.name for v in resume_graph.variables], sess.run(resume_graph.variables)))) \
            if used else None
        _expect_fallback(run, damage_list, used, capsys.readouterr().err, out)
        if used:
            saved = checkpoints.save_checkpoint(sess, resume_graph.saver, out, used + 1, keep)
            assert os.stat(saved + '.index').st_nlink == 1  # a new file, not the trained run's written through
            assert checkpoints.latest_checkpoint(out) == saved
    note('used {}, message {}'.format(used, message))
    if used is None:
        assert '\n' not in message and message.startswith('no usable checkpoint in {}: model-4 ('.format(out)) \
            and message.endswith('; ' + UNUSABLE), message
    else:
        assert restored == run.digests[used]


@given(data=st.data())
def test_generate_draws_from_the_newest_checkpoint_that_reads_back_as_saved(trained_run, capsys, data):
    """generate's faces are those of the newest checkpoint that reads back as saved, or it stops in one line"""
    run = trained_run
    damage_list = data.draw(_checkpoint_damages(run))
    capsys.readouterr()
    with _damaged_copy(run, damage_list) as out:
        code = generate(['--checkpoint', out, '--n', '1'])
        stderr = capsys.readouterr().err
        face = _faces(os.path.join(out, 'generated')) if code == 0 else None
        note('exit code {}, stderr {!r}'.format(code, stderr))
        if code == 0:
            drawn_from = [step for step in STEPS if np.array_equal(face, run.faces[step])]
            assert drawn_from, 'faces from none of the saved checkpoints'
            _expect_fallback(run, damage_list, max(drawn_from), stderr, out)
        else:
            _expect_fallback(run, damage_list, None, stderr, out)
            assert code == 1 and stderr.count('\n') == 1 and stderr.startswith(
                'error: --checkpoint {0}: no usable checkpoint in {0}: model-4 ('.format(out)) and stderr.endswith(
                "; train first, or point --checkpoint at a run's output folder\n"), stderr


@given(data=st.data())
def test_whatever_the_checkpoint_index_file_holds_what_is_restored_is_as_saved(trained_run, resume_graph, capsys,
                                                                             data):
    """
    A damaged index file may hide checkpoints, or be taken by the steps of the files when it cannot be read, but
    what resuming restores reads back exactly as some step saved it, and the next save rewrites the index whole
    """
    run = trained_run
    damage = data.draw(damages(_sizes(run.out, [INDEX_FILE]), replace=True))
    capsys.readouterr()
    with _damaged_copy(run, [damage]) as out, tf.Session(graph=resume_graph.graph) as sess:
        folder = os.path.join(out, 'checkpoints')
        listed = checkpoint_files.read_index(folder)
        used, message = _resume(sess, resume_graph, out)
        err = capsys.readouterr().err
        note('index {}, used {}, message {}'.format(listed, used, message))
        if listed is None:  # unreadable: the files, by their steps, and a note
            assert used == max(STEPS) and err.startswith('note: {} has no readable checkpoint index'.format(folder))
        elif used is None:  # it names none of the run's checkpoints
            assert not set(listed) & {'model-{}'.format(step) for step in STEPS}
            assert message == 'no checkpoint in {}: {}'.format(out, HINT)
        else:
            assert 'model-{}'.format(used) in listed and used == max(int(name.split('-')[1]) for name in listed
                                                                      if name in {'model-{}'.format(s) for s in STEPS})
        if used:
            restored = _digests(dict(zip([v.op.name for v in resume_graph.variables],
                                         sess.run(resume_graph.variables))))
            assert restored == run.digests[used]
            saved = checkpoints.save_checkpoint(sess, resume_graph.saver, out, used + 1, len(STEPS) + 1)
            names = checkpoint_files.read_index(folder)
            assert names[-1] == os.path.basename(saved) and checkpoints.latest_checkpoint(out) == saved


LOSSES = (b'step,d_loss,g_loss,d_real,d_fake\r\n1,1.929066,0.683028,0.326794,0.522110\r\n'
          b'2,2.105475,0.897728,0.880149,0.458226\r\n3,1.402473,1.338785,0.922415,0.331062\r\n')


def test_a_log_whose_header_lost_a_bit_is_read_by_its_rows(tmp_path):
    """Found by the property above: a flip of losses.csv's first bit ('step' -> 'rtep') made the loss curve fail"""
    (tmp_path / 'losses.csv').write_bytes(b'r' + LOSSES[1:])
    assert run_log.read_rows(str(tmp_path / 'losses.csv'), run_log.LOSS_COLUMNS)['step'].tolist() == [1, 2, 3]
    assert run_plots.loss_curve(str(tmp_path)) == str(tmp_path / 'loss_curve.png')


def test_an_empty_swd_csv_holds_no_ceiling(tmp_path):
    """Found by the property above: swd.csv cut to nothing, or to its header, made resuming fail reading the ceiling"""
    (tmp_path / 'swd.csv').write_bytes(b'')
    assert RunLog(str(tmp_path), 'RGB').untrained_swd() is None
    (tmp_path / 'swd.csv').write_bytes(b'step,swd,swd_real_vs_real,swd_untrained,gap_closed\r\n0,0.48')
    assert RunLog(str(tmp_path), 'RGB').untrained_swd() is None


def test_resume_drops_a_row_cut_short_and_the_rows_after_its_step(tmp_path, capsys):
    (tmp_path / 'losses.csv').write_bytes(LOSSES + b'4,1.2')  # a crash while it wrote step 4
    log = RunLog(str(tmp_path), 'RGB')
    log.resume_at(2)
    assert (tmp_path / 'losses.csv').read_bytes() == LOSSES[:LOSSES.index(b'3,')]
    assert capsys.readouterr().err == ('note: {} held rows cut short, damaged or after step 2, where the run resumes, '
                                       'or an older header: kept its 2 whole row(s) up to that step\n'
                                       .format(tmp_path / 'losses.csv'))
    log.resume_at(2)
    assert capsys.readouterr().err == ''  # nothing more to change: nothing said


def test_a_run_resumes_past_a_damaged_checkpoint_and_log(trained_run, capsys):
    """
    Resuming as the run cell does: the newest checkpoint (a bit flipped in its weights) is skipped with one
    line, losses.csv (cut short in step 3's row) keeps steps 1 and 2, and step 4 is trained again from model-3
    """
    run = trained_run
    data_file = 'checkpoints/model-4.data-00000-of-00001'
    with open(os.path.join(run.out, 'losses.csv'), 'rb') as f:
        middle_of_step_3 = f.read().index(b'\n3,') + 4
    damage_list = [Damage(data_file, 'flip', os.path.getsize(os.path.join(run.out, data_file)) // 2, 3),
                   Damage('losses.csv', 'truncate', middle_of_step_3)]
    with _damaged_copy(run, damage_list) as out:
        capsys.readouterr()
        train_narrow(run.data, out, resume=True)
        err = capsys.readouterr().err
        stderr = [line for line in err.splitlines() if line.startswith(('warning:', 'note:'))
                  and not line.startswith('note: resuming with other settings: logdir')]  # the run had a logdir
        assert stderr == ['warning: skipped checkpoint model-4 (unreadable: {}); using {}'.format(
            stderr[0].split('(unreadable: ')[1].split('); using ')[0], os.path.join(out, 'checkpoints', 'model-3')),
            'note: {} held rows cut short, damaged or after step 3, where the run resumes, or an older header: kept '
            'its 2 whole row(s) up to that step'.format(os.path.join(out, 'losses.csv')),
            'note: {} held rows cut short, damaged or after step 3, where the run resumes, or an older header: kept '
            'its 2 whole row(s) up to that step'.format(os.path.join(out, 'swd.csv'))]
        assert 'Checksum does not match' in stderr[0]
        assert run_log.read_rows(os.path.join(out, 'losses.csv'), run_log.LOSS_COLUMNS)['step'].tolist() == [1, 2, 4]
        assert run_log.read_rows(os.path.join(out, 'swd.csv'), run_log.SWD_COLUMNS)['step'].tolist() == [0, 2, 4]
        assert checkpoint_files.read_index(os.path.join(out, 'checkpoints'))[-1] == 'model-4'


def test_the_first_save_after_resuming_past_damaged_checkpoints_is_kept(trained_run, resume_graph, capsys):
    """
    Found by the resume property: with model-3 and model-2 damaged and --keep-checkpoints 1, a run resumed
    from model-1 saved model-2, then kept only the 'newest', the damaged model-3, and deleted what it had saved
    """
    damage_list = [Damage('checkpoints/model-{}.index'.format(step), 'flip') for step in (2, 3, 4)]
    with _damaged_copy(trained_run, damage_list) as out, tf.Session(graph=resume_graph.graph) as sess:
        assert _resume(sess, resume_graph, out)[0] == 1
        saved = checkpoints.save_checkpoint(sess, resume_graph.saver, out, 2, 1)
        assert checkpoint_files.listed_checkpoints(os.path.join(out, 'checkpoints')) == [saved]
        assert checkpoints.latest_checkpoint(out) == saved
