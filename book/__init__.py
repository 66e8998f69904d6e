"""What builds the book, apart from the package it teaches.

``book.figures`` draws the pages' figures from real runs of ``transformer``; ``book.digest`` says which code a cached
result depends on, ``book.numerics`` in which arithmetic it was computed; the mkdocs hooks (``exec_cache``,
``figure_files``, ``languages``, ``search_index``, ``katex``, ``notebooks``) build the site and the notebooks; ``pdf``
and ``offline`` print it and pack it. It needs the ``docs`` extra (matplotlib, mkdocs); ``transformer`` never imports
it.
"""
