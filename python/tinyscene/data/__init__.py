"""Data: the TAU Urban Acoustic Scenes 2020 3Class layout and the audio it holds.

    tau.py       meta.csv, fold files, the 10 scenes -> 3 classes, checks of a data folder
    audio.py     wav in (soundfile), resampling (soxr), int16 PCM
    synth.py     synthetic scenes in the TAU layout (`tinyscene data synth`)
    download.py  the real data set from zenodo, resumable and checksummed (`data download`)
    example.py   the real 10 s binaural example recording (`data example`)
    commands.py  `tinyscene data synth|download|info|example`
"""
