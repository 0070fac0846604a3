// Not compiled here (Unreal Engine is not available on the build machines).
#include "StreamDiffusionBridgeSettings.h"

USDBridgeSettings::USDBridgeSettings()
{
	SectionName = TEXT("StreamDiffusionBridge");
}
