"""The deploy layer: a bundle on a device. It composes the front-end, the compiler or TFLM, the bundle and the
target layer.

    classifier.py  the classifier firmware of a bundle for a board: memory plan, ts_clf.h, build
    session.py     the device session: clips down over the protocol, results up
    parity.py      device vs Python, clip by clip and stage by stage (parity.json, parity.md)
    commands.py    `tinyscene parity`, `tinyscene flash`
"""
