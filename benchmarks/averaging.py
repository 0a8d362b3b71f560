"""
Does an averaged generator draw better faces than the one training ends on, and with which decay?

Trains the notebook's GAN as train() does (its model_inputs, model_loss and model_opt, batch 16, z of
100, learning rate 0.0005, beta1 0.5, both optimizers in one session.run) on the real CelebA sample,
its last 256 images held out for the scores. Each step, after the generator's update, keeps a
bias-corrected exponential moving average of the generator's trainable variables for each decay:

    t = number of updates so far (1 after the first step)
    k_t = (1 - decay) / (1 - decay**t)
    average <- average + k_t * (weights - average)

which is Adam's bias-corrected first moment in closed form (average = weights after the first step).
At the chosen steps it scores, with the project's sliced Wasserstein distance (lower is better), the
raw generator and each averaged one, as training scores: inference mode, batch norm's averages
recomputed from the weights scored (batch_norm.build_calibration), 256 faces from one fixed z.

The calibration's 512 random z move the score: the same weights scored after different
calibrations differ by tens of 1e-3. --calibrations K scores every variant after K calibrations,
the same K batches of z for every variant, and the table gives their mean beside the first one's
(a single calibration, as training scores).

    nice -n 10 python benchmarks/averaging.py --seeds 0 1 2 --steps 300 600 1200
    nice -n 10 python benchmarks/averaging.py --seeds 0 1 2 3 4 --calibrations 8
    python benchmarks/averaging.py --check                  # the update against numpy, 3 steps
    python benchmarks/averaging.py --seeds 3 4 --output DIR  # more seeds, added to DIR's table
    python benchmarks/averaging.py --summarize --output DIR  # the table of every seed in DIR/scores.csv
"""
import argparse
import csv
import itertools
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from facegan.core import environment  # noqa: E402  (after the path set-up)

tf = environment.load_tensorflow()  # prepare()d first (tf.layers on tf-keras), without TensorFlow's C++ notes
import dlnd_face_generation as dlnd  # noqa: E402  (after TensorFlow's set-up)
import helper  # noqa: E402
from common import add_folder_argument  # noqa: E402
from facegan.core import machine  # noqa: E402
from facegan.graph import batch_norm, fast_layers, session_settings  # noqa: E402
from facegan.graph.learner_code import call_generator  # noqa: E402
from facegan.inspect import checks  # noqa: E402

DECAYS = (0.99, 0.993, 0.995, 0.998, 0.999)
GRID_Z = 25  # TrainingRun draws its sample grids' z first: drawn here too, so the scored z are training's
RAW = 'raw'  # the generator as trained, scored through the scoring copy as the averaged ones are
RAW_IN_GRAPH = 'raw, training graph'  # the same weights scored in the training graph, as train() scores
SCORES_CSV, SEEDS_CSV, TABLE_CSV = 'scores.csv', 'seeds.csv', 'table.csv'
FIRST, MEAN = 'first calibration', 'mean over calibrations'  # the table's two measures


def parse_args():
    """:return: Parsed command line"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_folder_argument(parser, synthetic_fallback=False)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--steps', type=int, nargs='+', default=[300, 600, 1200],
                        help='score at these steps; training runs to the last')
    parser.add_argument('--decays', type=float, nargs='+', default=list(DECAYS), help='per-step decays averaged')
    parser.add_argument('--eval-images', type=int, default=256, help='held out of training, and faces scored')
    parser.add_argument('--calibrations', type=int, default=1,
                        help='score each variant after this many batch-norm calibrations (default: one, as '
                             'training scores)')
    parser.add_argument('--precision', choices=['auto', 'float32', 'bfloat16'], default='auto',
                        help='auto: bfloat16 where the CPU has AMX_BF16 or AVX512_BF16')
    parser.add_argument('--output', default=None, help='folder for the CSV files (default: a temporary one)')
    parser.add_argument('--check', action='store_true', help='only check the averaging update against numpy')
    parser.add_argument('--summarize', action='store_true', help="only print the table of --output's scores.csv")
    args = parser.parse_args()
    if any(not 0 < decay < 1 for decay in args.decays):
        parser.error('--decays must lie between 0 and 1')
    if any(step < 1 for step in args.steps):
        parser.error('--steps must be positive')
    if args.calibrations < 1:
        parser.error('--calibrations must be 1 or more')
    if args.summarize and not args.output:
        parser.error('--summarize needs --output, the folder of a run')
    args.steps = sorted(set(args.steps))
    return args


def variant_name(decay):
    """:return: The table's name of the average with this decay"""
    return 'ema {:g}'.format(decay)


def averaging_ops(variables, decays, after):
    """
    Bias-corrected exponential moving averages of variables, one set per decay, updated after `after`
    :param variables: The variables to average (the generator's trainable ones)
    :param decays: Per-update decays
    :param after: Ops the update waits for (the generator's optimizer step): it averages their result
    :return: (the update op, {decay: list of average variables, in variables' order})
    """
    with tf.variable_scope('averaging'):
        updates_done = tf.Variable(0, dtype=tf.int64, trainable=False, name='updates_done')
        averages = {decay: [tf.Variable(tf.zeros(var.shape, var.dtype.base_dtype), trainable=False,
                                        name='{}_{}'.format(var.op.name.replace('/', '_'), i))
                            for var in variables]
                    for i, decay in enumerate(decays)}
        with tf.control_dependencies(after):
            t = tf.cast(updates_done.assign_add(1), tf.float64)  # the count after this update: 1 the first time
            weights = [var.read_value() for var in variables]  # read after the optimizer's step
        assignments = []
        for decay in decays:
            k = tf.cast((1 - decay) / (1 - tf.pow(tf.constant(decay, tf.float64), t)), tf.float32)
            for average, weight in zip(averages[decay], weights):
                assignments.append(average.assign_add(k * (weight - average.read_value())))
    return tf.group(*assignments), averages


def check_averaging(decays, precision, steps=3, seed=0):
    """
    Run averaging_ops for a few steps on a small variable set by a fed value, and compare with Adam's
    bias-corrected first moment computed in numpy: m_t = decay * m_(t-1) + (1 - decay) * w_t,
    m_0 = 0, average_t = m_t / (1 - decay**t)
    :param decays: Decays to check (0.5 is added: a decay where a wrong correction shows plainly)
    :param precision: The session's precision, as training's
    :param steps: Updates to check
    :param seed: Seed of the fed values
    :return: The largest absolute difference found
    :raise AssertionError: A difference beyond float32 rounding, or an average unequal to the weights after step 1
    """
    decays = sorted(set(decays) | {0.5})
    rng = np.random.default_rng(seed)
    with tf.Graph().as_default():
        weights = tf.Variable(tf.zeros((3, 4)), name='weights')
        new_value = tf.placeholder(tf.float32, (3, 4))
        step = weights.assign(new_value)  # stands in for the optimizer's step
        update, averages = averaging_ops([weights], decays, [step])
        moments = {decay: np.zeros((3, 4)) for decay in decays}
        worst = 0.0
        with tf.Session(config=session_settings.session_config(precision)) as sess:
            sess.run(tf.global_variables_initializer())
            for t in range(1, steps + 1):
                value = rng.normal(size=(3, 4)).astype(np.float32)
                sess.run(update, {new_value: value})
                for decay in decays:
                    moments[decay] = decay * moments[decay] + (1 - decay) * value
                    expected = moments[decay] / (1 - decay ** t)
                    found = sess.run(averages[decay][0])
                    if t == 1 and not np.array_equal(found, value):
                        raise AssertionError('decay {}: the average after the first update is not the weights'
                                             .format(decay))
                    difference = float(np.max(np.abs(found - expected)))
                    if difference > 1e-6 * max(1.0, float(np.max(np.abs(expected)))):
                        raise AssertionError('decay {}, update {}: off by {:.3g} from numpy'.format(decay, t,
                                                                                                    difference))
                    worst = max(worst, difference)
    print('Averaging update: {} updates, decays {}, match numpy within {:.2g} (first update: the weights exactly)'
          .format(steps, ', '.join('{:g}'.format(d) for d in decays), worst))
    return worst


def inference_generator(generator, z, channels):
    """
    In a fresh graph, the generator's variables and an inference-mode op on them (as a saved run's generator is
    drawn: facegan/inspect/generator_session.py)
    :return: The tensor of generated images
    """
    # The training-mode call creates the variables; inference mode reuses them
    call_generator(generator, z, channels, 'to create its variables', is_train=True)
    return call_generator(generator, z, channels, 'to draw faces', is_train=False)


class ScoringCopy(object):
    """
    A graph holding the generator alone, to score any values of its trainable variables as training
    scores its own: batch norm recalibrated for those values, then inference mode on a fixed z.
    Each set of values gets a new session, so its calibrations draw the same batches of z as every other's.
    """

    def __init__(self, eval_z, channels, seed, precision, fast):
        """
        :param eval_z: The fixed z scored, (n, z_dim)
        :param channels: The images' channels
        :param seed: The graph's seed (the calibration's z)
        :param precision: The session's precision, as training's
        :param fast: Build the generator with fast_layers, as training does
        """
        self.graph = tf.Graph()
        self.config = session_settings.session_config(precision)
        numpy_state, python_state = np.random.get_state(), random.getstate()  # training's z stay training's
        with self.graph.as_default():
            tf.set_random_seed(seed)
            with fast_layers.in_tf_layers(fast):
                self.images = inference_generator(dlnd.generator, tf.constant(eval_z, tf.float32), channels)
                self.calibrate = batch_norm.build_calibration(dlnd.generator, eval_z.shape[1], channels)
            self.variables = {var.op.name: var for var in tf.trainable_variables()}
            self.init = tf.global_variables_initializer()
        self.graph.finalize()
        np.random.set_state(numpy_state)
        random.setstate(python_state)

    def draw(self, values, calibrations=1):
        """
        :param values: {variable name: value} of every trainable variable of the generator
        :param calibrations: Draw the faces after each of this many calibrations
        :return: List of the fixed z's faces after each calibration, each (n, 28, 28, channels) in [-1, 1]
        """
        if set(values) != set(self.variables):
            raise ValueError('the values given are not those of the generator: {}'.format(
                sorted(set(values) ^ set(self.variables))))
        with tf.Session(graph=self.graph, config=self.config) as sess:
            sess.run(self.init)
            for name, var in self.variables.items():
                var.load(values[name], sess)
            drawn = []
            for _ in range(calibrations):
                sess.run(self.calibrate)
                drawn.append(sess.run(self.images))
            return drawn


def build_training(channels, z_dim, beta1, eval_z_count, decays, fast):
    """
    The training graph, as train() builds it, with the averages; call inside the graph's `with` after set_seeds
    :return: dict of the tensors and ops the loop runs, the generator's variables, the averages and the eval z
    """
    with fast_layers.in_tf_layers(fast):
        input_real, input_z, lr = dlnd.model_inputs(28, 28, channels, z_dim)
        d_loss, g_loss = dlnd.model_loss(input_real, input_z, channels)
        d_train_opt, g_train_opt = dlnd.model_opt(d_loss, g_loss, lr, beta1)
        np.random.uniform(-1, 1, size=(GRID_Z, z_dim))  # TrainingRun's grid z: drawn so the next are its eval z
        eval_z = np.random.uniform(-1, 1, size=(eval_z_count, z_dim))
        images = call_generator(dlnd.generator, tf.constant(eval_z, tf.float32), channels,
                                'to draw the images that are scored', is_train=False)
        calibrate = batch_norm.build_calibration(dlnd.generator, z_dim, channels)
    g_vars = [var for var in tf.trainable_variables() if var.name.startswith('generator/')]
    average, averages = averaging_ops(g_vars, decays, [g_train_opt])
    return dict(input_real=input_real, input_z=input_z, lr=lr, d_loss=d_loss, g_loss=g_loss,
                step=[d_train_opt, g_train_opt, average], images=images, calibrate=calibrate, g_vars=g_vars,
                averages=averages, eval_z=eval_z, init=tf.global_variables_initializer())


def score_all(sess, graph, copy, tracker, decays, step, calibrations):
    """
    Score the raw generator (in the training graph once, as train() does, then through the copy) and
    each average, through the copy after each of `calibrations` calibrations
    :return: {variant: list of SWD, one a calibration}
    """
    sess.run(graph['calibrate'])  # as train() scores: its batch norm recomputed, in its own session
    scores = {RAW_IN_GRAPH: [tracker.score(sess.run(graph['images']))[0]]}
    names = [var.op.name for var in graph['g_vars']]
    weights = {RAW: graph['g_vars']}
    if step:  # no average before the first update
        weights.update({variant_name(decay): graph['averages'][decay] for decay in decays})
    for name, variables in weights.items():
        drawn = copy.draw(dict(zip(names, sess.run(variables))), calibrations)
        scores[name] = [tracker.score(images)[0] for images in drawn]
    return scores


def check_first_update(sess, graph, decays):
    """After step 1 every average must equal the generator's weights exactly (k_1 = 1)."""
    weights = sess.run(graph['g_vars'])
    for decay in decays:
        for var, weight, average in zip(graph['g_vars'], weights, sess.run(graph['averages'][decay])):
            if not np.array_equal(weight, average):
                raise AssertionError('after step 1 the {:g} average of {} is not its weights'.format(decay,
                                                                                                     var.op.name))


def run_seed(args, files, cache_dir, seed, precision, fast, batch_size=16, z_dim=100, learning_rate=0.0005,
             beta1=0.5):
    """
    Train one seed to the last of args.steps, scoring at step 0 (the raw generator: the tracker's
    ceiling) and at each of args.steps
    :return: ({(step, variant): list of SWD, one a calibration}, seconds training, seconds in all)
    """
    start = time.perf_counter()
    dataset = helper.Dataset('celeba', files, seed=seed, cache_dir=cache_dir)
    tracker = checks.tracker(dataset, args.eval_images, seed)
    training, _ = dataset.split(args.eval_images)  # the last eval_images held out, as the tracker's
    channels = dataset.shape[3]
    results, training_seconds = {}, 0.0
    with tf.Graph().as_default():
        session_settings.set_seeds(seed)
        graph = build_training(channels, z_dim, beta1, args.eval_images, args.decays, fast)
        copy = ScoringCopy(graph['eval_z'], channels, seed, precision, fast)
        tf.get_default_graph().finalize()
        with tf.Session(config=session_settings.session_config(precision)) as sess:
            sess.run(graph['init'])
            results.update({(0, name): swd for name, swd in score_all(sess, graph, copy, tracker, [], 0,
                                                                      args.calibrations).items()})
            step, last = 0, args.steps[-1]
            for _ in itertools.count():  # epochs, each in a new order, as train() runs them
                for batch_images in training.get_batches(batch_size):
                    began = time.perf_counter()
                    batch_z = np.random.uniform(-1, 1, size=(batch_size, z_dim))
                    feed = {graph['input_real']: batch_images * 2, graph['input_z']: batch_z,
                            graph['lr']: learning_rate}
                    _, _, _, d_loss, g_loss = sess.run(graph['step'] + [graph['d_loss'], graph['g_loss']], feed)
                    training_seconds += time.perf_counter() - began
                    step += 1
                    if not (np.isfinite(d_loss) and np.isfinite(g_loss)):
                        raise RuntimeError('seed {}: losses {}/{} at step {}'.format(seed, d_loss, g_loss, step))
                    if step == 1:
                        check_first_update(sess, graph, args.decays)
                    if step in args.steps:
                        scores = score_all(sess, graph, copy, tracker, args.decays, step, args.calibrations)
                        results.update({(step, name): swd for name, swd in scores.items()})
                        print('seed {} step {} (first calibration, mean of all): {}'.format(seed, step, ', '.join(
                            '{} {:.1f}/{:.1f}'.format(name, swd[0] * 1e3, np.mean(swd) * 1e3)
                            for name, swd in scores.items())), flush=True)
                    if step == last:
                        break
                if step == last:
                    break
    return results, training_seconds, time.perf_counter() - start


def measures(per_calibration):
    """
    :param per_calibration: {(seed, step, variant): list of SWD, one a calibration}
    :return: {measure: {(seed, step, variant): SWD}}: the first calibration's, and the mean over all
    """
    return {FIRST: {key: values[0] for key, values in per_calibration.items()},
            MEAN: {key: float(np.mean(values)) for key, values in per_calibration.items()}}


def table_rows(scores, seeds, steps, names):
    """
    :param scores: {(seed, step, variant): SWD}
    :return: Rows [step, variant, SWD per seed..., median, spread], for the variants scored at each step
    """
    rows = []
    for step in [0] + steps:
        for name in names:
            values = [scores.get((seed, step, name)) for seed in seeds]
            if any(value is None for value in values):
                continue
            rows.append([step, name] + values + [statistics.median(values), max(values) - min(values)])
    return rows


def print_table(title, rows, seeds):
    """Print the rows as a Markdown table, SWD in units of 1e-3, with each decay's verdict against raw."""
    print('\n{}: SWD x 1e-3 (lower is better); spread = max - min over seeds'.format(title))
    print('| step | variant | ' + ' | '.join('seed {}'.format(seed) for seed in seeds) + ' | median | spread |')
    print('|---|---|' + '---|' * (len(seeds) + 2))
    for row in rows:
        print('| {} | {} | '.format(*row[:2]) + ' | '.join('{:.1f}'.format(v * 1e3) for v in row[2:]) + ' |')
    by_key = {(row[0], row[1]): row for row in rows}
    steps = sorted({row[0] for row in rows if row[0]})
    for name in sorted({row[1] for row in rows if row[1].startswith('ema')}):
        verdicts = []
        for step in steps:
            raw, average = by_key.get((step, RAW)), by_key.get((step, name))
            if raw and average:
                verdicts.append('step {}: median {:+.1f}, spread {:+.1f}'.format(
                    step, (average[-2] - raw[-2]) * 1e3, (average[-1] - raw[-1]) * 1e3))
        print('{} against raw: {}'.format(name, '; '.join(verdicts)))


def print_calibration_noise(per_calibration, steps):
    """Print, for each step, the median over seeds and variants of one score's standard deviation over calibrations."""
    spread = {step: [np.std(values, ddof=1) for (_, at, _), values in per_calibration.items()
                     if at == step and len(values) > 1] for step in [0] + steps}
    if any(spread.values()):
        print('\nCalibration noise, the standard deviation of one score over its calibrations (x 1e-3), median: '
              + ', '.join('step {} {:.1f}'.format(step, np.median(values) * 1e3)
                          for step, values in spread.items() if values))


def write_csv(path, header, rows):
    """Write rows under a header, replacing the file."""
    with open(path, 'w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def score_rows(per_calibration):
    """:return: scores.csv's rows [seed, step, variant, calibration, SWD] of {(seed, step, variant): list of SWD}"""
    return [[seed, step, name, i, swd] for (seed, step, name), values in per_calibration.items()
            for i, swd in enumerate(values)]


def read_scores(output):
    """
    :return: ({(seed, step, variant): list of SWD, one a calibration} of output's scores.csv, seeds,
             steps, variants), in the file's order
    """
    scores, seeds, steps, names = {}, [], [], []
    with open(os.path.join(output, SCORES_CSV)) as file:
        for row in csv.DictReader(file):
            seed, step, name = int(row['seed']), int(row['step']), row['variant']
            scores.setdefault((seed, step, name), []).append(float(row['swd']))
            for found, value in ((seeds, seed), (steps, step), (names, name)):
                if value not in found:
                    found.append(value)
    return scores, seeds, sorted(step for step in steps if step), names


def earlier_seeds(output, seeds):
    """
    :return: ({(seed, step, variant): list of SWD}, timing rows) already in output's CSV files for
             seeds other than these, so that a later run of more seeds into the same --output adds to the table
    """
    if not os.path.exists(os.path.join(output, SCORES_CSV)):
        return {}, []
    scores = {key: swd for key, swd in read_scores(output)[0].items() if key[0] not in seeds}
    timing = []
    if os.path.exists(os.path.join(output, SEEDS_CSV)):
        with open(os.path.join(output, SEEDS_CSV)) as file:
            timing = [row for row in csv.reader(file)][1:]
        timing = [row for row in timing if int(row[0]) not in seeds]
    if scores:
        print('Kept the scores of seeds {} from {}'.format(sorted({key[0] for key in scores}), output))
    return scores, timing


def summarize(output):
    """Print and save the tables of every seed in output's scores.csv: first calibration, and mean over them."""
    per_calibration, seeds, steps, names = read_scores(output)
    counts = sorted({len(values) for (_, _, name), values in per_calibration.items() if name != RAW_IN_GRAPH})
    calibrations = counts[-1]
    rows = []
    for measure, scores in measures(per_calibration).items():
        if measure == MEAN and calibrations == 1:
            continue  # the same as the first
        measure_rows = table_rows(scores, seeds, steps, names)
        title = measure if measure == FIRST else '{} ({} each; {} once)'.format(
            measure, ' to '.join(str(count) for count in counts[::len(counts) - 1 or 1]), RAW_IN_GRAPH)
        print_table(title, measure_rows, seeds)
        rows += [[measure] + row for row in measure_rows]
    print_calibration_noise(per_calibration, steps)
    write_csv(os.path.join(output, TABLE_CSV), ['measure', 'step', 'variant']
              + ['seed {}'.format(seed) for seed in seeds] + ['median', 'spread'], rows)
    print('Saved {}'.format(os.path.join(output, TABLE_CSV)))


def cpu_model(cpuinfo='/proc/cpuinfo'):
    """:return: The CPU's model name from cpuinfo, or 'unknown'"""
    try:
        with open(cpuinfo) as text:
            return next((line.split(':', 1)[1].strip() for line in text if line.startswith('model name')), 'unknown')
    except OSError:
        return 'unknown'


def main():
    """Check the update, train and score each seed, and print and save the table."""
    args = parse_args()
    if args.summarize:
        summarize(args.output)
        return
    print('CPU: {}; bfloat16 in hardware: {}'.format(cpu_model(), machine.cpu_bfloat16_support() or 'no'))
    precision, why = machine.resolve_precision(args.precision)  # why: for auto, why it chose
    print('Precision: {} (--precision {})'.format(precision, 'auto: ' + why if why else args.precision))
    check_averaging(args.decays, precision)
    if args.check:
        return
    fast = fast_layers.wanted(True)  # as a run builds train()'s graph: where the machine has no GPU
    output = args.output or tempfile.mkdtemp(prefix='averaging-')
    os.makedirs(output, exist_ok=True)
    print('Scores go to {}'.format(output))
    files = helper.list_image_files(args.folder)
    print('{} images in {}; the last {} held out'.format(len(files), args.folder, args.eval_images))
    cache_dir = tempfile.mkdtemp(prefix='averaging-cache-')  # never beside the shared images
    scores, timing = earlier_seeds(output, args.seeds)
    try:
        for seed in args.seeds:
            results, training_seconds, seconds = run_seed(args, files, cache_dir, seed, precision, fast)
            scores.update({(seed, step, name): swd for (step, name), swd in results.items()})
            timing.append([seed, args.steps[-1], round(training_seconds, 1), round(seconds, 1), precision])
            print('seed {}: {} steps trained in {:.0f} s, {:.0f} s with the scores'.format(
                seed, args.steps[-1], training_seconds, seconds), flush=True)
            write_csv(os.path.join(output, SCORES_CSV), ['seed', 'step', 'variant', 'calibration', 'swd'],
                      score_rows(scores))
            write_csv(os.path.join(output, SEEDS_CSV), ['seed', 'steps', 'training_seconds', 'seconds', 'precision'],
                      timing)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    summarize(output)

if __name__ == '__main__':
    main()
