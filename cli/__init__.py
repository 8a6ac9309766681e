"""The ``pidengine`` command: the top floor of the house, above the flows (:mod:`flows`), their tasks (:mod:`tasks`)
and the library (:mod:`pidengine`), none of which imports it.

:mod:`cli.main` holds the commands on the library (``pid``, ``examples``, ``catalog``, ``ingest``, ``featurize``,
``recommend``); :mod:`cli.run` the pipeline's ``run``, whose options are read from the flows' parameters.
"""
