"""PyInstaller hook: publicsuffixlist reads the Public Suffix List from ``public_suffix_list.dat`` beside its module
(``publicsuffixlist.PSLFILE``), which PyInstaller does not collect by itself (no hook of its own or in
pyinstaller-hooks-contrib). Without it, the first sign-in to a server with a host name would fail
(desktop_app/accounts/consent.py compares registrable domains)."""

from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("publicsuffixlist", includes=["public_suffix_list.dat"])
