"""Stands in for a Python built without Tk: on the path first, it makes tkinter fail to import.

Tests put this directory on PYTHONPATH to run tcpchat as on a Debian
system without python3-tk.
"""

raise ModuleNotFoundError("No module named '_tkinter'", name="_tkinter")
