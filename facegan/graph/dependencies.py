"""
What a tensor is computed from: the ops behind it in its graph, found by walking its inputs back. The
run finds its way around a learner's graph this way: which logits read the generated images
(discriminator_view.py), which variables a draw reads (sampling.py).
"""


def ops_behind(tensor, control=False):
    """
    :param tensor: A tensor of a graph
    :param control: Also walk the control inputs: the ops that must run before one that is walked
    :return: The set of ops tensor is computed from, its own op included
    """
    seen, pending = set(), [tensor.op]
    while pending:
        op = pending.pop()
        if op not in seen:
            seen.add(op)
            pending.extend(each.op for each in op.inputs)
            if control:
                pending.extend(op.control_inputs)
    return seen
