// Not compiled here (no Unreal Engine on the build machines). See SDBridgeShaders.h.
#include "SDBridgeShaders.h"

IMPLEMENT_GLOBAL_SHADER(FSDBridgeCapturePS, "/Plugin/StreamDiffusionBridge/Private/SDBridgeCapture.usf", "CapturePS", SF_Pixel);
IMPLEMENT_GLOBAL_SHADER(FSDBridgeDepthCopyPS, "/Plugin/StreamDiffusionBridge/Private/SDBridgeCapture.usf", "DepthCopyPS", SF_Pixel);
IMPLEMENT_GLOBAL_SHADER(FSDBridgeCompositePS, "/Plugin/StreamDiffusionBridge/Private/SDBridgeComposite.usf", "CompositePS", SF_Pixel);
IMPLEMENT_GLOBAL_SHADER(FSDBridgePlanesPS, "/Plugin/StreamDiffusionBridge/Private/SDBridgePlanes.usf", "PlanesPS", SF_Pixel);
