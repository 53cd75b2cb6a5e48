@echo off
rem foureyes: silent per-machine installation with the managed policy that sits beside this file.
rem For an Intune Win32 app or a ConfigMgr package: put foureyes-VERSION-x64.msi and policy.json
rem next to this file and use "install.cmd" as the install command. Exit code: msiexec's
rem (0 done, 3010 done and a restart is due, anything else failed; the log says why).
setlocal
set "MSI="
for %%f in ("%~dp0foureyes-*-x64.msi") do set "MSI=%%~ff"
if not defined MSI (echo foureyes: no foureyes-*-x64.msi next to %~nx0 & exit /b 1603)
if not exist "%~dp0policy.json" (echo foureyes: no policy.json next to %~nx0 & exit /b 1603)
msiexec /i "%MSI%" /qn /norestart POLICYFILE="%~dp0policy.json" /l*v "%windir%\Temp\foureyes-install.log"
exit /b %ERRORLEVEL%
