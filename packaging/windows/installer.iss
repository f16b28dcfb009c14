; Inno Setup 6 script: the Windows installer of the one-folder build (packaging/pyinstaller/windows.spec).
; NOT BUILT OR TESTED on this project's machines (Linux only): a definition and a plan, see packaging/README.md.
; On Windows, after the build, with the app's identity from desktop_app/appinfo.py (its one source):
;   iscc /DAppVersion=<VERSION> /DAppId=<APP_ID> "/DAppName=<APP_NAME>" packaging\windows\installer.iss

#if !Defined(AppVersion) || !Defined(AppId) || !Defined(AppName)
  #error Pass /DAppVersion, /DAppId and /DAppName from desktop_app/appinfo.py (VERSION, APP_ID, APP_NAME)
#endif
#define WindowExe "mcp-connectors-window.exe"
#define RunKey "Software\Microsoft\Windows\CurrentVersion\Run"

[Setup]
AppId={#AppId}
AppName={#AppName}
AppVersion={#AppVersion}
; Per user, no administrator needed: tokens, the profile and the Run key are the user's anyway.
PrivilegesRequired=lowest
DefaultDirName={autopf}\{#AppName}
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=mcp-connector-manager-{#AppVersion}-setup
UninstallDisplayIcon={app}\{#WindowExe}
; The app may be running (tray): ask to close it rather than leave files in use.
CloseApplications=yes

[Files]
Source: "..\..\dist\mcp-connectors\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
; The Start-menu entry starts the window executable (no console window); the same AppUserModelID as the app's.
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#WindowExe}"; AppUserModelID: "{#AppId}"

[Tasks]
Name: "autostart"; Description: "Start {#AppName} in the tray when I sign in to Windows"

[Registry]
; The value the app's own "Start at login" toggle writes and removes (same name, same command).
Root: HKCU; Subkey: "{#RunKey}"; ValueType: string; ValueName: "{#AppId}"; ValueData: """{app}\{#WindowExe}"" --hidden"; Tasks: autostart

[Run]
Filename: "{app}\{#WindowExe}"; Description: "Open {#AppName}"; Flags: nowait postinstall skipifsilent

[Code]
// Whoever wrote it (this installer's task or the app's toggle), the Run value goes with the app.
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
    RegDeleteValue(HKEY_CURRENT_USER, '{#RunKey}', '{#AppId}');
end;
