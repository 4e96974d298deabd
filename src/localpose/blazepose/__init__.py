"""The BlazePose model family on LiteRT: detector, regions, landmark network, and the pipeline.

`localpose.blazepose.pipeline.BlazePoseEngine` is the `PoseEngine` the default runtime uses;
`detector`, `regions` and `landmarks` are its parts. Networks run through `localpose.runtime`.
"""
