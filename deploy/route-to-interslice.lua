-- Orthanc auto-routing to Interslice: every MR series, once stable (no new instance for
-- StableAge seconds), is sent to the "interslice" modality of orthanc.json. Interslice
-- answers by storing a DERIVED thin-slice series back into Orthanc.
--
-- Loop guard: series that Interslice itself stored (series metadata RemoteAET = its AE title,
-- Orthanc >= 1.9.0) are not routed again. Interslice also recognises and skips its own output,
-- so this is belt and braces; it also keeps Orthanc from sending series for nothing.

local INTERSLICE_MODALITY = 'interslice'   -- key in DicomModalities
local INTERSLICE_AET = 'INTERSLICE'        -- Interslice's dicom.aeTitle
local MODALITIES = { MR = true }           -- what Interslice processes (pipeline.select.modalities)

function OnStableSeries(seriesId, tags, metadata)
  local modality = tags['Modality'] or ''
  if not MODALITIES[modality] then
    return
  end
  if metadata['RemoteAET'] == INTERSLICE_AET then
    print('Interslice routing: series ' .. seriesId .. ' came from Interslice; not sent back')
    return
  end
  -- An asynchronous job: a slow or absent node must not block Orthanc's Lua engine. Failed
  -- jobs are listed under /jobs and can be resubmitted from there.
  local body = DumpJson({ Resources = { seriesId }, Asynchronous = true }, true)
  local answer = ParseJson(RestApiPost('/modalities/' .. INTERSLICE_MODALITY .. '/store', body))
  print('Interslice routing: series ' .. seriesId .. ' (' .. modality .. ') queued as job ' .. (answer['ID'] or '?'))
end
